import ArgumentParser
import Composition
import Foundation
import Tokens

/// `portcullis token inspect|verify`: look inside tokens, and check them against published keys.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Inspect or verify Portcullis tokens (PASETO v4, EdDSA JWT).",
        subcommands: [Inspect.self, Verify.self])

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode a token WITHOUT verifying it; the output is labelled UNVERIFIED.")

        @Argument(help: "The token (v4.public.…, v4.local.… or a compact JWT).")
        var token: String

        func run() async throws {
            print("UNVERIFIED: the signature has NOT been checked; do not trust these contents.")
            if token.hasPrefix("v4.public.") {
                let decoded = try PasetoV4.unverifiedPublicPayload(token)
                print("format:  PASETO v4.public (Ed25519)")
                print("footer:  \(String(decoding: decoded.footer, as: UTF8.self))")
                print("payload:\n\(prettyJSON(decoded.payload))")
            } else if token.hasPrefix("v4.local.") {
                let footer = try PasetoV4.parse(token, purpose: .local).footer
                print("format:  PASETO v4.local (encrypted; the payload needs the symmetric key)")
                print("footer:  \(String(decoding: footer, as: UTF8.self))")
            } else if token.hasPrefix("v") && token.dropFirst(2).hasPrefix(".") {
                throw TokenError.malformed("unsupported PASETO version or purpose; only v4.public and v4.local exist here")
            } else {
                let segments = try JWT.unverifiedSegments(token)
                print("format:  JWT (compact JWS)")
                print("header:\n\(prettyJSON(segments.header))")
                print("payload:\n\(prettyJSON(segments.payload))")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a token's signature, key id and time claims against a JWKS or PASERK key file.")

        @Argument(help: "The token (v4.public.… or a compact EdDSA JWT).")
        var token: String

        @Option(help: "JWKS document or file of k4.public PASERKs (one per line).")
        var keys: String

        @Option(help: "Accepted issuer (repeatable). Without it the issuer is reported but not checked.")
        var issuer: [String] = []

        @Option(help: "Accepted audience (repeatable). Without it the audience is reported but not checked.")
        var audience: [String] = []

        @Option(help: "Allowed clock skew for exp/nbf/iat, e.g. 30s.")
        var clockSkew: DurationArgument = DurationArgument(seconds: 30)

        @Option(help: "Maximum accepted token lifetime (exp - iat), e.g. 1h.")
        var maxLifetime: DurationArgument = DurationArgument(seconds: 3600)

        func run() async throws {
            guard let document = FileManager.default.contents(atPath: keys) else {
                throw ValidationError("cannot read key file \(keys)")
            }
            let keySet = try VerificationKeys(document: document)
            let isPaseto = token.hasPrefix("v4.")
            let (payload, keyID) =
                isPaseto
                ? try PasetoPublicVerifier(keys: keySet, policy: ClaimsPolicy(issuers: [], audiences: [])).verifySignature(token)
                : try JWTVerifier(keys: keySet, policy: ClaimsPolicy(issuers: [], audiences: [])).verifySignature(token)
            let claims = try ClaimsCodec.decode(payload, as: isPaseto ? .paseto : .jwt)
            let policy = ClaimsPolicy(
                issuers: issuer.isEmpty ? [claims.issuer] : issuer,
                audiences: audience.isEmpty ? claims.audience : audience,
                clockSkew: clockSkew.seconds, maxLifetime: maxLifetime.seconds)
            try policy.validate(claims, now: Date())
            print("VERIFIED: signature valid with key \(keyID); exp/nbf/iat and lifetime checked")
            if issuer.isEmpty { print("note: issuer not checked (pass --issuer)") }
            if audience.isEmpty { print("note: audience not checked (pass --audience)") }
            print(prettyJSON(payload))
        }
    }
}

/// `portcullis keys rotate|list`: manage a signing key ring: the one `serve` uses in PostgreSQL
/// (`--database`), or a file-backed ring for tools and single-file setups.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Rotate and list the Ed25519 signing keys (sealed with the master key).",
        subcommands: [Rotate.self, List.self])

    struct StoreOptions: ParsableArguments {
        @Option(help: "Key store file (JSON of sealed key records, written 0600).")
        var store: String = "portcullis-keys.json"

        @Flag(help: "Use the key ring in the configured database (the one `serve` signs with) instead of --store.")
        var database = false

        @OptionGroup var configuration: ConfigurationOptions

        @Option(help: "File holding the master key (32 bytes raw, hex or base64). Default: $\(MasterKey.environmentVariable).")
        var masterKeyFile: String?

        func masterKey() throws -> MasterKey {
            if let masterKeyFile { return try MasterKey(contentsOf: URL(fileURLWithPath: masterKeyFile)) }
            guard let key = try MasterKey.fromEnvironment() else { throw KeyRingError.missingMasterKey }
            return key
        }

        /// Runs `body` with the chosen store (for the database, with a pool running meanwhile).
        func withStore<T: Sendable>(_ body: @Sendable (any KeyRingStore, String) async throws -> T) async throws -> T {
            guard database else { return try await body(FileKeyRingStore(path: store), store) }
            let (settings, logger) = try configuration.load()
            return try await KeyStoreRuntime.withDatabaseStore(configuration: settings, logger: logger) { try await body($0, "database") }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply due rotations: publish the next key, promote it, retire old keys. Creates the ring if empty.")

        @OptionGroup var options: StoreOptions

        @Flag(help: "Rotate now: promote the published next key (or publish one if there is none).")
        var force = false

        @Option(help: "How long a key signs before rotation, e.g. 7d.")
        var period: DurationArgument = DurationArgument(seconds: 7 * 86_400)

        @Option(help: "How long before activation the next key is published, e.g. 1d.")
        var publishLead: DurationArgument = DurationArgument(seconds: 86_400)

        @Option(help: "Longest token lifetime; retiring keys verify this long (plus skew) after they stop signing.")
        var maxTokenLifetime: DurationArgument = DurationArgument(seconds: 3600)

        func run() async throws {
            let policy = RotationPolicy(
                rotationPeriod: period.seconds, publishLead: publishLead.seconds,
                maxTokenLifetime: maxTokenLifetime.seconds)
            let masterKey = try options.masterKey()
            let force = force
            try await options.withStore { store, name in
                let rotator = KeyRingRotator(store: store, masterKey: masterKey, policy: policy)
                let (ring, changed) = try await rotator.rotateIfDue(now: Date(), force: force)
                print(changed ? "key ring updated: \(name)" : "no rotation due")
                KeysCommand.printTable(ring)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys and states, or export the public set.")

        @OptionGroup var options: StoreOptions

        enum Format: String, ExpressibleByArgument, CaseIterable { case table, jwks, paserk }

        @Option(help: "table, jwks (/.well-known/jwks.json) or paserk (k4.public lines).")
        var format: Format = .table

        func run() async throws {
            let ring = try await options.withStore { store, _ in try await store.load() }
            switch format {
            case .table: KeysCommand.printTable(ring)
            case .jwks: print(String(decoding: try ring.verificationKeys().jwks(), as: UTF8.self))
            case .paserk: print(try ring.verificationKeys().paserkLines(), terminator: "")
            }
        }
    }

    static func printTable(_ ring: KeyRing) {
        if ring.records.isEmpty { print("(no keys)") }
        for record in ring.records {
            let activated = record.activatedAt.map { " activated \(timestamp($0))" } ?? ""
            let retiring = record.retiringAt.map { " retiring since \(timestamp($0))" } ?? ""
            print(
                "\(record.state.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(record.id) created \(timestamp(record.createdAt))\(activated)\(retiring)"
            )
        }
    }

    private static func timestamp(_ date: Date) -> String { date.formatted(.iso8601) }
}

/// A duration given as `90`, `45s`, `30m`, `12h` or `7d`.
struct DurationArgument: ExpressibleByArgument, Sendable {
    let seconds: TimeInterval

    init(seconds: TimeInterval) { self.seconds = seconds }

    init?(argument: String) {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let unit = argument.last.flatMap { units[$0] }
        guard let value = Double(unit == nil ? argument : String(argument.dropLast())), value >= 0 else { return nil }
        seconds = value * (unit ?? 1)
    }

    var defaultValueDescription: String { "\(Int(seconds))s" }
}

/// Pretty-prints JSON bytes, or shows them as text when they are not JSON.
private func prettyJSON(_ bytes: [UInt8]) -> String {
    guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)),
        let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    else { return String(decoding: bytes, as: UTF8.self) }
    return String(decoding: pretty, as: UTF8.self)
}
