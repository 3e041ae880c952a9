import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import PKI

@Suite struct CertificateRevocationListTests {
    /// OpenSSL parses the CRL, checks its signature against the intermediate, lists the revoked serials
    /// with their reasons, and `verify -crl_check` refuses the revoked leaf while accepting another.
    @Test func openSSLReadsVerifiesAndEnforcesTheCRL() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let revoked = try authority.issue(spiffeID: try SPIFFEID("spiffe://logistics.internal/billing"), publicKey: key.publicKey)
        let other = try authority.issue(spiffeID: try SPIFFEID("spiffe://logistics.internal/fleet"), publicKey: key.publicKey)
        let superseded = try Certificate.SerialNumber(hex: "ff0102")  // high bit set: DER adds a leading zero byte
        let now = Date()
        let crl = try CertificateRevocationList(
            authority: authority,
            revoked: [
                RevokedCertificate(serialNumber: revoked.serialNumber, revocationDate: now - 60, reason: .keyCompromise),
                RevokedCertificate(serialNumber: superseded, revocationDate: now - 30, reason: .superseded),
                RevokedCertificate(serialNumber: 7, revocationDate: now - 10, reason: .unspecified),
            ],
            number: 42, thisUpdate: now - 5, nextUpdate: now + 3600)
        #expect(crl.pemString.hasPrefix("-----BEGIN X509 CRL-----\n"))
        #expect(try PEMDocument(pemString: crl.pemString).derBytes == crl.derBytes)

        let crlFile = directory.appendingPathComponent("crl.pem")
        let derFile = directory.appendingPathComponent("crl.der")
        try crl.pemString.write(to: crlFile, atomically: true, encoding: .utf8)
        try Data(crl.derBytes).write(to: derFile)
        let chainFile = directory.appendingPathComponent("chain.pem")
        try writePEM([authority.intermediate, authority.root], to: chainFile)

        let text = try OpenSSL.run(["crl", "-in", crlFile.path, "-noout", "-text"])
        #expect(text.status == 0, "\(text.output)")
        #expect(text.output.contains("Version 2"))
        #expect(text.output.contains("ecdsa-with-SHA256"))
        #expect(text.output.contains("X509v3 CRL Number: \n                42"))
        #expect(text.output.contains("X509v3 Authority Key Identifier"))
        #expect(text.output.contains("Serial Number: \(revoked.serialNumber.hex.uppercased())"))
        #expect(text.output.contains("Serial Number: FF0102"))
        #expect(text.output.contains("Serial Number: 07"))
        #expect(text.output.contains("Key Compromise"))
        #expect(text.output.contains("Superseded"))
        #expect(!text.output.contains("Unspecified"))
        let der = try OpenSSL.run(["crl", "-inform", "DER", "-in", derFile.path, "-noout", "-crlnumber"])
        #expect(der.output.contains("crlNumber=0x2A"), "\(der.output)")

        let verified = try OpenSSL.run(["crl", "-in", crlFile.path, "-noout", "-CAfile", chainFile.path, "-verify"])
        #expect(verified.output.contains("verify OK"), "\(verified.output)")
        // Signed by another CA's intermediate, the same CRL does not verify against ours.
        let (stranger, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let forged = directory.appendingPathComponent("forged.pem")
        try CertificateRevocationList(authority: stranger, revoked: [], number: 1, thisUpdate: now - 5, nextUpdate: now + 3600)
            .pemString.write(to: forged, atomically: true, encoding: .utf8)
        let refused = try OpenSSL.run(["crl", "-in", forged.path, "-noout", "-CAfile", chainFile.path, "-verify"])
        #expect(!refused.output.contains("verify OK"), "\(refused.output)")

        for (leaf, name) in [(revoked, "revoked"), (other, "other")] {
            let file = directory.appendingPathComponent("\(name).pem")
            try writePEM([leaf], to: file)
            let result = try OpenSSL.run(["verify", "-crl_check", "-CRLfile", crlFile.path, "-CAfile", chainFile.path, file.path])
            if name == "revoked" {
                #expect(result.status != 0)
                #expect(result.output.contains("certificate revoked"), "\(result.output)")
            } else {
                #expect(result.status == 0, "\(result.output)")
                #expect(result.output.contains(": OK"))
            }
        }
    }

    /// With nothing revoked the list is left out (RFC 5280 §5.1.2.6) and OpenSSL still accepts the CRL.
    @Test func anEmptyCRLVerifies() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let crl = try CertificateRevocationList(authority: authority, revoked: [], number: 1, thisUpdate: Date(), nextUpdate: Date() + 600)
        let crlFile = directory.appendingPathComponent("crl.pem")
        let chainFile = directory.appendingPathComponent("chain.pem")
        try crl.pemString.write(to: crlFile, atomically: true, encoding: .utf8)
        try writePEM([authority.intermediate, authority.root], to: chainFile)
        let text = try OpenSSL.run(["crl", "-in", crlFile.path, "-noout", "-text", "-CAfile", chainFile.path, "-verify"])
        #expect(text.output.contains("verify OK"), "\(text.output)")
        #expect(text.output.contains("No Revoked Certificates."))
    }

    /// Dates from 2050 on are GeneralizedTime, earlier ones UTCTime, as RFC 5280 §5.1.2.4 requires.
    @Test func timesSwitchToGeneralizedTimeIn2050() throws {
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let late = Date(timeIntervalSince1970: 2_556_143_999)  // 2050-12-31T23:59:59Z
        let crl = try CertificateRevocationList(
            authority: authority, revoked: [], number: 1,
            thisUpdate: Date(timeIntervalSince1970: 2_524_607_999), nextUpdate: late)
        let root = try DER.parse(crl.derBytes)
        guard case .constructed(let list) = root.content, let tbsNode = list.first(where: { _ in true }),
            case .constructed(let tbs) = tbsNode.content
        else {
            Issue.record("not a SEQUENCE")
            return
        }
        let fields = Array(tbs)
        #expect(fields[3].identifier == .utcTime)  // 2049-12-31T23:59:59Z
        #expect(fields[4].identifier == .generalizedTime)
        #expect(
            try GeneralizedTime(derEncoded: fields[4])
                == GeneralizedTime(year: 2050, month: 12, day: 31, hours: 23, minutes: 59, seconds: 59, fractionalSeconds: 0))
    }

    @Test func refusesANextUpdateBeforeThisUpdate() throws {
        let (authority, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let now = Date()
        #expect(throws: PKIError.self) {
            try CertificateRevocationList(authority: authority, revoked: [], number: 1, thisUpdate: now, nextUpdate: now)
        }
    }

    @Test func serialHexRoundTripsAndReadsOpenSSLSpelling() throws {
        let serial = Certificate.SerialNumber(bytes: [0x0a, 0x00, 0xff])
        #expect(serial.hex == "0a00ff")
        #expect(try Certificate.SerialNumber(hex: "0a00ff") == serial)
        #expect(try Certificate.SerialNumber(hex: "0A:00:FF") == serial)
        #expect(try Certificate.SerialNumber(hex: "00ff").hex == "ff")
        #expect(try Certificate.SerialNumber(hex: "00").hex == "00")
        for bad in ["", "abc", "zz", String(repeating: "ab", count: 22)] {
            #expect(throws: PKIError.self) { try Certificate.SerialNumber(hex: bad) }
        }
    }
}
