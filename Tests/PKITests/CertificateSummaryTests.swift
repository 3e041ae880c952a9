import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import PKI

@Suite struct CertificateSummaryTests {
    @Test func summarizesAServerCertificateAndAgreesWithOpenSSL() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let now = Date()
        let leaf = try authority.issue(
            spiffeID: try SPIFFEID("spiffe://logistics.internal/gateway"), publicKey: key.publicKey,
            dnsNames: ["gateway.logistics.internal", "localhost"], server: true, lifetime: 3600, now: now)
        let summary = try CertificateSummary(certificate: leaf)
        #expect(summary.subject == "CN=gateway,O=Portcullis")
        #expect(summary.issuer == "CN=Portcullis issuing CA for logistics.internal,O=Portcullis")
        #expect(summary.spiffeID?.description == "spiffe://logistics.internal/gateway")
        #expect(summary.dnsNames == ["gateway.logistics.internal", "localhost"])
        #expect(summary.uris == ["spiffe://logistics.internal/gateway"])
        #expect(summary.keyType == "ECDSA P-256")
        #expect(summary.extendedKeyUsages == ["serverAuth", "clientAuth"])
        #expect(!summary.isCertificateAuthority)
        #expect(summary.notAfter == leaf.notValidAfter)

        let file = directory.appendingPathComponent("leaf.pem")
        try writePEM([leaf], to: file)
        let fingerprint = try OpenSSL.run(["x509", "-in", file.path, "-noout", "-fingerprint", "-sha256", "-serial"])
        #expect(
            fingerprint.output.contains(
                summary.sha256Fingerprint.uppercased().enumerated()
                    .map { ($0.offset > 0 && $0.offset.isMultiple(of: 2) ? ":" : "") + String($0.element) }.joined()), "\(fingerprint.output)")
        #expect(fingerprint.output.contains("serial=\(summary.serial.uppercased())"), "\(fingerprint.output)")

        let text = summary.render(chain: await summary.chainsTo(authority), now: now)
        #expect(text.contains("SPIFFE ID:          spiffe://logistics.internal/gateway"), "\(text)")
        #expect(text.contains("Status:             valid, expires in 1h"), "\(text)")
        #expect(text.contains("Chains to CA:       yes"))
        #expect(!text.contains("IP addresses"))  // empty facts are left out
        #expect(summary.render(now: now + 3700).contains("EXPIRED 1m 40s ago"))
        #expect(!summary.render().contains("Chains to CA"))
    }

    @Test func chainsToTellsOurCAFromAnother() async throws {
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let (stranger, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let ours = try CertificateSummary(
            certificate: try authority.issue(spiffeID: try SPIFFEID("spiffe://logistics.internal/a"), publicKey: key.publicKey))
        #expect(await ours.chainsTo(authority) == .chains)
        #expect(await ours.chainsTo(stranger) != .chains)
        // An expired certificate still chains: expiry is reported on its own line.
        let old = try authority.issue(
            spiffeID: try SPIFFEID("spiffe://logistics.internal/a"), publicKey: key.publicKey,
            lifetime: 60, now: Date() - 3600)
        #expect(await (try CertificateSummary(certificate: old)).chainsTo(authority) == .chains)
        // The intermediate chains to its root too.
        #expect(await (try CertificateSummary(certificate: authority.intermediate)).chainsTo(authority) == .chains)
        #expect(try CertificateSummary(certificate: authority.intermediate).isCertificateAuthority)
        #expect(try CertificateSummary(certificate: authority.intermediate).spiffeID == nil)
    }

    @Test func showsIPAddressesAndOtherKeyTypes() throws {
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let key = Certificate.PrivateKey(Curve25519.Signing.PrivateKey())
        let leaf = try authority.forgeLeaf(
            names: [
                .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])),
            ],
            key: key)
        let summary = try CertificateSummary(certificate: leaf)
        #expect(summary.ipAddresses == ["127.0.0.1", "2001:db8:0:0:0:0:0:1"])
        #expect(summary.keyType == "Ed25519")
        #expect(summary.spiffeID == nil)
        #expect(summary.render().contains("SPIFFE ID:          none"))
    }
}
