import CSodium

/// Secret bytes in memory we allocate ourselves, wiped on release, never printed.
///
/// Immutable after initialisation, hence safe to share across tasks.
public final class SecretBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let storage: UnsafeMutableRawBufferPointer

    /// Copies `bytes`; callers should wipe their own copy when it was secret.
    public init(_ bytes: [UInt8]) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        storage = buffer
        count = bytes.count
    }

    /// Number of secret bytes.
    public let count: Int

    /// Scoped read access; the pointer must not escape `body`.
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// A copy of the bytes, for code that must hand them to an API taking arrays.
    func copy() -> [UInt8] { withBytes { Array($0) } }

    deinit {
        sodium_memzero(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
}

/// An Ed25519 public key (32 bytes).
public struct Ed25519PublicKey: Sendable, Hashable {
    /// The raw 32-byte key.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(TokenError) {
        guard bytes.count == crypto_sign_publickeybytes() else {
            throw TokenError.invalidKey("Ed25519 public key must be \(crypto_sign_publickeybytes()) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// PASERK `k4.public.` serialisation (PASERK spec, types/public.md).
    public var paserk: String { "k4.public." + Base64URL.encode(bytes) }

    /// PASERK `k4.pid.` key identifier: what the footer's `kid` (and the JWT `kid`) carries.
    public var keyID: String { PASERK.identifier(kind: "pid", of: paserk) }

    /// Parses a `k4.public.` PASERK; anything else (other versions, secret keys) is refused.
    public init(paserk: String) throws(TokenError) {
        let prefix = "k4.public."
        guard paserk.hasPrefix(prefix), let raw = Base64URL.decode(String(paserk.dropFirst(prefix.count))) else {
            throw TokenError.invalidKey("expected a 'k4.public.' PASERK")
        }
        try self.init(bytes: raw)
    }

    /// Raw Ed25519 check of a detached signature.
    func isValidSignature(_ signature: UnsafeRawBufferPointer, for message: [UInt8]) -> Bool {
        guard signature.count == crypto_sign_bytes() else { return false }
        return crypto_sign_verify_detached(
            signature.bindMemory(to: UInt8.self).baseAddress!, message, UInt64(message.count), bytes) == 0
    }
}

/// An Ed25519 signing key. `description` never reveals the key.
public struct Ed25519SecretKey: Sendable, CustomStringConvertible {
    /// libsodium's 64-byte secret key (seed || public key).
    let secret: SecretBytes
    /// The matching public key.
    public let publicKey: Ed25519PublicKey

    /// Derives the key pair from a 32-byte seed (RFC 8032 private key).
    public init(seed: [UInt8]) throws(TokenError) {
        try Sodium.ensureReady()
        guard seed.count == crypto_sign_seedbytes() else {
            throw TokenError.invalidKey("Ed25519 seed must be \(crypto_sign_seedbytes()) bytes")
        }
        var pk = [UInt8](repeating: 0, count: crypto_sign_publickeybytes())
        var sk = [UInt8](repeating: 0, count: crypto_sign_secretkeybytes())
        guard crypto_sign_seed_keypair(&pk, &sk, seed) == 0 else { throw TokenError.invalidKey("seed rejected") }
        secret = SecretBytes(sk)
        Sodium.wipe(&sk)
        publicKey = try Ed25519PublicKey(bytes: pk)
    }

    /// A fresh random key pair.
    public static func generate() throws(TokenError) -> Ed25519SecretKey {
        var seed = Sodium.randomBytes(crypto_sign_seedbytes())
        defer { Sodium.wipe(&seed) }
        return try Ed25519SecretKey(seed: seed)
    }

    /// The 32-byte seed, for sealing at rest.
    func seed() -> [UInt8] { secret.withBytes { Array($0.prefix(crypto_sign_seedbytes())) } }

    /// Detached Ed25519 signature (64 bytes).
    func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: crypto_sign_bytes())
        secret.withBytes { sk in
            _ = crypto_sign_detached(
                &signature, nil, message, UInt64(message.count),
                sk.bindMemory(to: UInt8.self).baseAddress!)
        }
        return signature
    }

    public var description: String { "Ed25519SecretKey(\(publicKey.keyID), secret redacted)" }
}

/// A 32-byte symmetric key for PASETO v4.local.
public struct PasetoLocalKey: Sendable, CustomStringConvertible {
    let secret: SecretBytes

    public init(bytes: [UInt8]) throws(TokenError) {
        guard bytes.count == 32 else { throw TokenError.invalidKey("v4.local key must be 32 bytes, got \(bytes.count)") }
        secret = SecretBytes(bytes)
    }

    /// A fresh random key.
    public static func generate() throws(TokenError) -> PasetoLocalKey {
        try Sodium.ensureReady()
        var raw = Sodium.randomBytes(32)
        defer { Sodium.wipe(&raw) }
        return try PasetoLocalKey(bytes: raw)
    }

    /// PASERK `k4.lid.` identifier, safe to place in a footer.
    public var keyID: String {
        var raw = secret.copy()
        defer { Sodium.wipe(&raw) }
        return PASERK.identifier(kind: "lid", of: "k4.local." + Base64URL.encode(raw))
    }

    public var description: String { "PasetoLocalKey(secret redacted)" }
}

/// PASERK identifiers (PASERK spec, operations/ID.md): `k4.<kind>.` followed by base64url of
/// BLAKE2b-264 over the header and the full PASERK serialisation of the key.
enum PASERK {
    static func identifier(kind: String, of serialized: String) -> String {
        let header = "k4.\(kind)."
        let digest = Sodium.blake2b(outputLength: 33, Array(header.utf8), Array(serialized.utf8))
        return header + Base64URL.encode(digest)
    }
}
