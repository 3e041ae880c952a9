import Crypto
import Foundation
import TestSupport
import Testing
import X509

@testable import PKI

@Suite struct CertificateAuthorityTests {
    @Test(arguments: ["spiffe://logistics.internal/billing", "spiffe://a.b-c_d/ns/prod/sa/fleet-sync"])
    func validSPIFFEIDs(_ text: String) throws {
        #expect(try SPIFFEID(text).description == text)
    }

    @Test(arguments: [
        "https://logistics.internal/x", "spiffe://logistics.internal", "spiffe://logistics.internal/",
        "spiffe://Logistics.internal/x", "spiffe://logistics.internal/a/../b", "spiffe://logistics.internal/a//b",
        "spiffe://logistics.internal/x?q=1", "spiffe://user@logistics.internal/x", "spiffe://logistics.internal:8443/x",
    ])
    func invalidSPIFFEIDs(_ text: String) {
        #expect(throws: PKIError.self) { try SPIFFEID(text) }
    }

    @Test func refusesAnIDOutsideTheTrustDomain() throws {
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        #expect(throws: PKIError.outsideTrustDomain(spiffeID: "spiffe://other.internal/x", trustDomain: "logistics.internal")) {
            try authority.issue(spiffeID: try SPIFFEID("spiffe://other.internal/x"), publicKey: key.publicKey)
        }
    }

    /// The issued chain verifies with OpenSSL, nobody's code but OpenSSL's, for client and server use.
    @Test func chainsVerifyWithOpenSSL() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = CAFiles(directory: directory)
        let (created, rootKey) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        try files.save(created, rootKey: rootKey, force: false)
        #expect(throws: PKIError.self) { try files.save(created, rootKey: rootKey, force: false) }
        let keyMode =
            try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("intermediate.key").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)

        let authority = try files.load()
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let client = try authority.issue(spiffeID: try SPIFFEID("spiffe://logistics.internal/billing"), publicKey: key.publicKey)
        let server = try authority.issue(
            spiffeID: try SPIFFEID("spiffe://logistics.internal/gateway"), publicKey: key.publicKey,
            dnsNames: ["localhost"], server: true)
        for (certificate, purpose) in [(client, "sslclient"), (server, "sslserver")] {
            let leaf = directory.appendingPathComponent("leaf-\(purpose).crt")
            try certificate.serializeAsPEM().pemString.write(to: leaf, atomically: true, encoding: .utf8)
            let result = try OpenSSL.run([
                "verify", "-purpose", purpose, "-CAfile", directory.appendingPathComponent("root.crt").path,
                "-untrusted", directory.appendingPathComponent("intermediate.crt").path, leaf.path,
            ])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains(": OK"))
        }
        // A certificate from another CA does not verify against ours.
        let (stranger, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let foreign = try stranger.issue(spiffeID: try SPIFFEID("spiffe://logistics.internal/billing"), publicKey: key.publicKey)
        let foreignFile = directory.appendingPathComponent("foreign.crt")
        try foreign.serializeAsPEM().pemString.write(to: foreignFile, atomically: true, encoding: .utf8)
        let refused = try OpenSSL.run([
            "verify", "-CAfile", directory.appendingPathComponent("root.crt").path,
            "-untrusted", directory.appendingPathComponent("intermediate.crt").path, foreignFile.path,
        ])
        #expect(refused.status != 0)
    }
}

enum OpenSSL {
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.readToEndAndClose(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
