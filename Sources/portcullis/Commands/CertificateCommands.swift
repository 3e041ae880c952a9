import ArgumentParser
import Crypto
import Foundation
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
        commandName: "cert", abstract: "Issue and inspect service certificates.", subcommands: [Issue.self, Inspect.self])

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
            let certificate = try authority.issue(spiffeID: try SPIFFEID(spiffe), publicKey: key.publicKey, dnsNames: dns,
                                                  server: server, lifetime: lifetime)
            try PEMFile.write(try key.serializeAsPEM().pemString, to: URL(fileURLWithPath: out + ".key"), secret: true)
            try PEMFile.write(try certificate.serializeAsPEM().pemString + "\n" + authority.intermediate.serializeAsPEM().pemString,
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
