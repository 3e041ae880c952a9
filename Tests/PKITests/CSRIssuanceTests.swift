import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import PKI

@Suite struct CSRIssuanceTests {
    let billing = try! SPIFFEID("spiffe://logistics.internal/billing")

    /// An OpenSSL-made CSR (DER) whose subject was changed after signing is refused before anything
    /// else is looked at.
    @Test func refusesACSRWhoseSignatureDoesNotVerify() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("k.pem").path
        let csr = directory.appendingPathComponent("x.der").path
        #expect(try OpenSSL.run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]).status == 0)
        #expect(try OpenSSL.run(["req", "-new", "-key", key, "-subj", "/CN=x", "-outform", "DER", "-out", csr]).status == 0)
        let der = try [UInt8](Data(contentsOf: URL(fileURLWithPath: csr)))
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")

        // Untouched, it is accepted.
        #expect(try authority.issue(csr: try CertificateSigningRequest(pemOrDER: der), spiffeID: billing).count == 2)

        // The CN "x" as it sits in the DER: UTF8String (0x0c) or PrintableString (0x13), length 1.
        let at = try #require(der.indices.dropLast(2).first { (der[$0] == 0x0c || der[$0] == 0x13) && der[$0 + 1] == 1 && der[$0 + 2] == 0x78 })
        var tampered = der
        tampered[at + 2] = 0x79  // "y"
        let request = try CertificateSigningRequest(pemOrDER: tampered)
        #expect(throws: PKIError.invalidCSRSignature) { try authority.issue(csr: request, spiffeID: billing) }
    }

    /// The CSR asks for another workload's ID and a DNS name; the certificate names only the bound ID.
    @Test func theBoundSPIFFEIDIsTheOnlyNameIssued() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("k.pem").path
        let csr = directory.appendingPathComponent("x.csr").path
        #expect(try OpenSSL.run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]).status == 0)
        let made = try OpenSSL.run([
            "req", "-new", "-key", key, "-subj", "/CN=admin", "-out", csr, "-addext",
            "subjectAltName=URI:spiffe://logistics.internal/admin,DNS:admin.internal",
        ])
        #expect(made.status == 0, "\(made.output)")
        let request = try CertificateSigningRequest(pemOrDER: try [UInt8](Data(contentsOf: URL(fileURLWithPath: csr))))
        #expect(
            try request.attributes.extensionRequest?.extensions.subjectAlternativeNames?.contains(
                .uniformResourceIdentifier("spiffe://logistics.internal/admin")) == true)

        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let chain = try authority.issue(csr: request, spiffeID: billing)
        #expect(try chain[0].extensions.subjectAlternativeNames.map(Array.init) == [.uniformResourceIdentifier(billing.description)])
        #expect(try SPIFFEID(certificate: chain[0]) == billing)
        #expect(!chain[0].subject.description.contains("admin"))
        #expect(chain[0].publicKey == request.publicKey)
        #expect(try chain[0].extensions.extendedKeyUsage.map(Array.init) == [.clientAuth])

        // And OpenSSL agrees the chain is a client chain of our CA.
        let leaf = directory.appendingPathComponent("leaf.pem")
        let root = directory.appendingPathComponent("root.pem")
        let intermediate = directory.appendingPathComponent("intermediate.pem")
        try writePEM([chain[0]], to: leaf)
        try writePEM([authority.root], to: root)
        try writePEM([chain[1]], to: intermediate)
        let verified = try OpenSSL.run(["verify", "-purpose", "sslclient", "-CAfile", root.path, "-untrusted", intermediate.path, leaf.path])
        #expect(verified.status == 0, "\(verified.output)")
    }

    @Test func validityIsBackdatedAndCappedByTheIntermediate() throws {
        let now = Date()
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal", now: now, intermediateLifetime: 600)
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let request = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("x") },
            privateKey: key, attributes: .init())
        let short = try authority.issue(csr: request, spiffeID: billing, ttl: .seconds(120), now: now)[0]
        #expect(abs(short.notValidBefore.timeIntervalSince(now - 60)) < 1)
        #expect(abs(short.notValidAfter.timeIntervalSince(now + 120)) < 1)
        let capped = try authority.issue(csr: request, spiffeID: billing, ttl: .seconds(3600), now: now)[0]
        #expect(capped.notValidAfter <= authority.intermediate.notValidAfter)
        #expect(capped.notValidAfter > now + 500)
        #expect(capped.serialNumber != short.serialNumber)
        #expect(capped.serialNumber.bytes.count == 16)

        #expect(throws: PKIError.self) { try authority.issue(csr: request, spiffeID: billing, ttl: .zero, now: now) }
        #expect(throws: PKIError.self) { try authority.issue(csr: request, spiffeID: billing, now: now + 700) }
    }

    @Test func refusesAnIDOutsideTheTrustDomainAndRSAKeys() throws {
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let request = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("x") },
            privateKey: key, attributes: .init())
        #expect(throws: PKIError.outsideTrustDomain(spiffeID: "spiffe://other.internal/billing", trustDomain: "logistics.internal")) {
            try authority.issue(csr: request, spiffeID: try SPIFFEID("spiffe://other.internal/billing"))
        }

        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let rsaKey = directory.appendingPathComponent("rsa.pem").path
        let csr = directory.appendingPathComponent("rsa.csr").path
        #expect(try OpenSSL.run(["genrsa", "-out", rsaKey, "2048"]).status == 0)
        #expect(try OpenSSL.run(["req", "-new", "-key", rsaKey, "-subj", "/CN=x", "-out", csr]).status == 0)
        let rsaRequest = try CertificateSigningRequest(pemOrDER: try [UInt8](Data(contentsOf: URL(fileURLWithPath: csr))))
        #expect {
            try authority.issue(csr: rsaRequest, spiffeID: billing)
        } throws: { error in
            if case PKIError.invalidCSR(let reason) = error { reason.contains("ECDSA") } else { false }
        }
    }

    @Test(arguments: [
        Array("hello".utf8), [0x30, 0x03, 0x02, 0x01, 0x00],
        Array("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----".utf8), [],
    ])
    func refusesWhatIsNotACSR(_ bytes: [UInt8]) {
        #expect {
            try CertificateSigningRequest(pemOrDER: bytes)
        } throws: { error in
            if case PKIError.invalidCSR = error { true } else { false }
        }
    }
}
