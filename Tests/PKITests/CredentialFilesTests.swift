import Crypto
import Foundation
import Testing
import X509

@testable import PKI

@Suite struct CredentialFilesTests {
    let authority = try! CertificateAuthority.create(trustDomain: "logistics.internal").authority

    func credentials() throws -> (chain: [Certificate], key: Certificate.PrivateKey) {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let leaf = try authority.issue(spiffeID: try SPIFFEID("spiffe://logistics.internal/billing"), publicKey: key.publicKey)
        return ([leaf, authority.intermediate], key)
    }

    func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }

    func inode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
    }

    /// The files are replaced by rename (a new inode, not rewritten in place), the key and the
    /// combined file are 0600 even over a world-readable file and whatever the umask, and nothing
    /// temporary is left behind.
    @Test func writesByRenameWithAPrivateKey() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = directory.appendingPathComponent("billing").path
        try "old".write(toFile: prefix + ".key", atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: prefix + ".key")
        try "old".write(toFile: prefix + ".crt", atomically: false, encoding: .utf8)
        let before = (try inode(prefix + ".key"), try inode(prefix + ".crt"))

        let first = try credentials()
        let mask = umask(0)
        defer { umask(mask) }
        try CredentialFiles.write(prefix: prefix, chain: first.chain, key: first.key)
        #expect(try mode(prefix + ".key") == 0o600)
        #expect(try mode(prefix + ".crt") == 0o644)
        #expect(try mode(prefix + ".pem") == 0o600)
        // The combined file is the key followed by the chain: OpenSSL reads both from it.
        let combined = try String(contentsOfFile: prefix + ".pem", encoding: .utf8)
        #expect(
            combined == (try String(contentsOfFile: prefix + ".key", encoding: .utf8))
                + (try String(contentsOfFile: prefix + ".crt", encoding: .utf8)))
        #expect(try OpenSSL.run(["x509", "-in", prefix + ".pem", "-noout"]).status == 0)
        #expect(try OpenSSL.run(["pkey", "-in", prefix + ".pem", "-noout"]).status == 0)
        #expect(try inode(prefix + ".key") != before.0)
        #expect(try inode(prefix + ".crt") != before.1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["billing.crt", "billing.key", "billing.pem"])

        let read = try CredentialFiles.read(prefix: prefix)
        #expect(read.chain == first.chain)
        #expect(read.key.publicKey == first.key.publicKey)
        let key = try OpenSSL.run(["pkey", "-in", prefix + ".key", "-noout"])
        #expect(key.status == 0, "\(key.output)")
        try writePEM([authority.root], to: directory.appendingPathComponent("root.pem"))
        let verified = try OpenSSL.run([
            "verify", "-CAfile", directory.appendingPathComponent("root.pem").path,
            "-untrusted", prefix + ".crt", prefix + ".crt",
        ])
        #expect(verified.status == 0, "\(verified.output)")
    }

    @Test func refusesAKeyThatDoesNotMatchAndReportsAMismatchedPair() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = directory.appendingPathComponent("billing").path
        let first = try credentials()
        let second = try credentials()
        #expect(throws: PKIError.credentialMismatch(prefix)) {
            try CredentialFiles.write(prefix: prefix, chain: first.chain, key: second.key)
        }
        #expect(!FileManager.default.fileExists(atPath: prefix + ".key"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)

        try CredentialFiles.write(prefix: prefix, chain: first.chain, key: first.key)
        try PEMFile.write(try second.key.serializeAsPEM().pemString, to: URL(fileURLWithPath: prefix + ".key"), secret: true)
        #expect(throws: PKIError.credentialMismatch(prefix)) { try CredentialFiles.read(prefix: prefix) }
    }

    /// A reader polling while renewals keep replacing the files always gets a whole, matching pair.
    @Test func aConcurrentReaderNeverSeesAHalfWrittenOrMismatchedPair() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = directory.appendingPathComponent("billing").path
        let pairs = try (0..<4).map { _ in try credentials() }
        try CredentialFiles.write(prefix: prefix, chain: pairs[0].chain, key: pairs[0].key)
        let writer = Task.detached {
            for round in 0..<200 {
                let pair = pairs[round % pairs.count]
                try CredentialFiles.write(prefix: prefix, chain: pair.chain, key: pair.key)
            }
        }
        let reader = Task.detached {
            var reads = 0
            while reads < 200 {
                let (chain, key) = try CredentialFiles.read(prefix: prefix)
                #expect(chain.count == 2 && chain[0].publicKey == key.publicKey)
                reads += 1
            }
        }
        try await writer.value
        try await reader.value
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["billing.crt", "billing.key", "billing.pem"])
    }

    @Test func renewsTwoThirdsIntoTheLifetime() {
        let start = Date(timeIntervalSince1970: 1_000_000)
        #expect(RenewalSchedule.nextRenewal(notBefore: start, notAfter: start + 3600) == start + 2400)
        #expect(RenewalSchedule.nextRenewal(notBefore: start, notAfter: start + 3) == start + 2)
    }
}
