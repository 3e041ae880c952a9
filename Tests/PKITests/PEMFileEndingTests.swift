import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import PKI

/// Every PEM file Portcullis writes ends with a newline, so `cat a.crt b.key > both.pem` (what
/// HAProxy and nginx ask for) gives a file that parses into all of its blocks.
@Suite struct PEMFileEndingTests {
    @Test func caFilesAndCredentialFilesEndWithANewline() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (authority, rootKey) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        try CAFiles(directory: directory).save(authority, rootKey: rootKey, force: false)
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let leaf = try authority.issue(spiffeID: try SPIFFEID("spiffe://logistics.internal/billing"), publicKey: key.publicKey)
        let prefix = directory.appendingPathComponent("billing").path
        try CredentialFiles.write(prefix: prefix, chain: [leaf, authority.intermediate], key: key)

        let written = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasSuffix(".crt") || $0.hasSuffix(".key") || $0.hasSuffix(".pem")
        }
        #expect(written.count == 8, "\(written)")
        var combined = ""
        for name in written.sorted() {
            let text = try String(contentsOfFile: directory.appendingPathComponent(name).path, encoding: .utf8)
            #expect(text.hasSuffix("-----\n"), "\(name) does not end with a newline")
            combined += text
        }
        let blocks = try PEMDocument.parseMultiple(pemString: combined)
        #expect(blocks.count == 12)
    }

    @Test func theCRLEndsWithANewline() throws {
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let crl = try CertificateRevocationList(authority: authority, revoked: [], number: 1, thisUpdate: Date(), nextUpdate: Date() + 3600)
        #expect(crl.pemString.hasSuffix("-----END X509 CRL-----\n"))
    }
}
