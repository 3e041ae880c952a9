import ArgumentParser
import Composition
import Crypto
import Foundation
import Identity
import Logging
import PKI
import SwiftASN1
import X509

struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "The internal certificate authority.", subcommands: [Initialize.self])

    struct Initialize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init", abstract: "Create a root CA and an issuing intermediate limited to one SPIFFE trust domain.")
        @Option(help: "SPIFFE trust domain, e.g. logistics.internal.") var trustDomain: String
        @Option(help: "Directory for the CA files.") var out = "certs"
        @Flag(help: "Overwrite existing CA files.") var force = false

        func run() async throws {
            let (authority, rootKey) = try CertificateAuthority.create(trustDomain: trustDomain)
            try CAFiles(directory: URL(fileURLWithPath: out)).save(authority, rootKey: rootKey, force: force)
            print("created the CA for \(trustDomain) in \(out)/ (move root.key offline once you no longer need to re-issue the intermediate)")
        }
    }
}

struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "Issue, inspect, renew and revoke service certificates.",
        subcommands: [Issue.self, Inspect.self, Renew.self, Revoke.self])

    struct Renew: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Renew <prefix>.crt/.key through the Workload API (mTLS with the current certificate, or a join token).",
            discussion: """
                Generates a new key, sends a CSR to <url>/v1/certs/sign and replaces <prefix>.crt (leaf + intermediate) \
                and <prefix>.key atomically. With --watch it keeps doing so at two thirds of each certificate's lifetime, \
                retrying failures until the certificate expires. The first certificate needs --join-token \
                (or PORTCULLIS_JOIN_TOKEN); later renewals authenticate with the current certificate.
                """)
        @Option(help: "Credential prefix: <prefix>.crt and <prefix>.key.") var from: String
        @Option(help: "Base URL of the identity API as this service reaches it, normally the gateway (https://gateway:8443).") var url: String
        @Option(help: "PEM bundle of CAs to trust for the server (e.g. certs/ca-bundle.crt); default: the system store.") var cacert: String?
        @Option(help: "One-time join token for the first certificate (or set PORTCULLIS_JOIN_TOKEN).") var joinToken: String?
        @Flag(help: "Keep running and renew at two thirds of every lifetime.") var watch = false

        func run() async throws {
            // With --watch this is an agent that runs for good: a service's structured log. Once, a command's words.
            if watch {
                LoggingSetup.bootstrap(format: .json, level: .warning)
            } else {
                LoggingSetup.bootstrapCommand(requestedFormat: nil, level: .warning)
            }
            let logger = Logger(label: "portcullis.cert-renew")
            let token = joinToken ?? ProcessInfo.processInfo.environment["PORTCULLIS_JOIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            let agent = RenewalAgent(prefix: from, baseURL: url, trustRoots: cacert, logger: logger)
            do {
                if watch {
                    try await agent.watch(joinToken: token) { leaf, due in
                        // Unbuffered: a supervisor (or a test) reading the pipe sees each renewal as it happens.
                        FileHandle.standardOutput.write(
                            Data(
                                ("certificate \(leaf.serialNumber.hex) valid until "
                                    + "\(leaf.notValidAfter.formatted(.iso8601)); next renewal at \(due.formatted(.iso8601))\n").utf8))
                    }
                } else {
                    let renewed = try await agent.renew(joinToken: token)
                    print(
                        "renewed \(from).crt: serial \(renewed.leaf.serialNumber.hex), valid until \(renewed.leaf.notValidAfter.formatted(.iso8601))")
                }
            } catch {
                FileHandle.standardError.write(Data("portcullis cert renew: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a certificate: every gateway refuses it from its next handshake, and it is listed in the CRL.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The serial (hex, as `cert inspect` prints it; colons allowed) or a PEM file holding the certificate.")
        var certificate: String
        @Option(help: "Why: \(RevocationReason.allCases.map(\.rawValue).joined(separator: ", ")).") var reason = "unspecified"

        func run() async throws {
            guard let reason = RevocationReason.allCases.first(where: { $0.rawValue.lowercased() == self.reason.lowercased() }) else {
                throw ValidationError("--reason must be one of \(RevocationReason.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var serial = certificate
            var expiresAt: Date?
            if FileManager.default.fileExists(atPath: certificate) {
                let pem = try String(contentsOfFile: certificate, encoding: .utf8)
                guard let leaf = try PEMDocument.parseMultiple(pemString: pem).map({ try Certificate(pemDocument: $0) }).first else {
                    throw ValidationError("\(certificate) holds no certificate")
                }
                serial = leaf.serialNumber.hex
                expiresAt = leaf.notValidAfter
            }
            let (target, until) = (serial, expiresAt)
            try await IdentityCommandRunner.run(options, "cert revoke") { admin in
                let outcome = try await admin.operations.revokeCertificate(serial: target, reason: reason, expiresAt: until)
                let normalized = try Certificate.SerialNumber(hex: target.lowercased()).hex
                if outcome.revoked {
                    print("revoked \(normalized) (\(reason.rawValue)): refused by every gateway from its next handshake, listed in the CRL")
                } else {
                    print("\(normalized) was already revoked")
                }
                for renewal in outcome.renewals { print("revoked \(renewal), renewed from it") }
            }
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a certificate's subject, SANs, SPIFFE ID, validity, serial and issuer, and whether it chains to the CA.")

        @Argument(help: "PEM file: the certificate, optionally followed by its intermediates.")
        var file: String

        @Option(help: "CA directory to check the chain against; the check is skipped when it has no CA.")
        var ca: String = "certs"

        func run() async throws {
            let pem = try String(contentsOfFile: file, encoding: .utf8)
            let chain = try PEMDocument.parseMultiple(pemString: pem).map { try Certificate(pemDocument: $0) }
            guard let leaf = chain.first else { throw ValidationError("\(file) holds no certificate") }
            let summary = try CertificateSummary(certificate: leaf)
            let authority = try? CAFiles(directory: URL(fileURLWithPath: ca)).load()
            var status: CertificateSummary.ChainStatus?
            if let authority { status = await summary.chainsTo(authority, presented: Array(chain.dropFirst())) }
            print(summary.render(chain: status))
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a SPIFFE certificate (and its key) signed by the intermediate.")
        @Option(help: "spiffe://<trust-domain>/<path>") var spiffe: String
        @Option(help: "DNS name (repeatable); required with --server.") var dns: [String] = []
        @Option(help: "Lifetime: 30m, 1h, 24h…") var ttl = "1h"
        @Flag(help: "Also valid as a TLS server certificate (EKU serverAuth).") var server = false
        @Option(help: "Output prefix: writes <prefix>.crt (leaf + intermediate) and <prefix>.key.") var out: String
        @Option(help: "CA directory.") var ca = "certs"

        func run() async throws {
            guard let lifetime = Self.seconds(ttl) else { throw ValidationError("--ttl must look like 30m, 1h or 24h") }
            let authority = try CAFiles(directory: URL(fileURLWithPath: ca)).load()
            let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
            let certificate = try authority.issue(
                spiffeID: try SPIFFEID(spiffe), publicKey: key.publicKey, dnsNames: dns,
                server: server, lifetime: lifetime)
            try PEMFile.write(PEMText.of(try key.serializeAsPEM()), to: URL(fileURLWithPath: out + ".key"), secret: true)
            try PEMFile.write(
                PEMText.of(try certificate.serializeAsPEM(), try authority.intermediate.serializeAsPEM()),
                to: URL(fileURLWithPath: out + ".crt"), secret: false)
            print("issued \(spiffe) (serial \(certificate.serialNumber), valid until \(certificate.notValidAfter)) to \(out).crt")
        }

        static func seconds(_ text: String) -> TimeInterval? {
            let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
            guard let unit = text.last.flatMap({ units[$0] }), let value = Double(text.dropLast()), value > 0 else { return nil }
            return value * unit
        }
    }
}
