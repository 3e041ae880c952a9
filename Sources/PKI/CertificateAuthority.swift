import Crypto
import Foundation
import SwiftASN1
import X509

/// The internal CA: a long-lived root (its key meant to be kept offline) and the issuing
/// intermediate the running service signs with, name-constrained to one SPIFFE trust domain.
public struct CertificateAuthority: Sendable {
    public let trustDomain: String
    public let root: Certificate
    public let intermediate: Certificate
    let intermediateKey: Certificate.PrivateKey

    public init(trustDomain: String, root: Certificate, intermediate: Certificate, intermediateKey: Certificate.PrivateKey) {
        self.trustDomain = trustDomain
        self.root = root
        self.intermediate = intermediate
        self.intermediateKey = intermediateKey
    }

    /// Newly generated root and intermediate (ECDSA P-256).
    public static func create(
        trustDomain: String, now: Date = Date(), rootLifetime: TimeInterval = 10 * 365 * 86_400,
        intermediateLifetime: TimeInterval = 365 * 86_400
    ) throws -> (authority: CertificateAuthority, rootKey: Certificate.PrivateKey) {
        _ = try SPIFFEID("spiffe://\(trustDomain)/ca")
        let rootKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let rootName = try DistinguishedName {
            OrganizationName("Portcullis")
            CommonName("Portcullis root CA for \(trustDomain)")
        }
        let root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: rootKey.publicKey,
            notValidBefore: now - 300, notValidAfter: now + rootLifetime, issuer: rootName, subject: rootName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 1))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: rootKey.publicKey)
            },
            issuerPrivateKey: rootKey)

        let intermediateKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let intermediateName = try DistinguishedName {
            OrganizationName("Portcullis")
            CommonName("Portcullis issuing CA for \(trustDomain)")
        }
        let intermediate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: intermediateKey.publicKey,
            notValidBefore: now - 300, notValidAfter: now + intermediateLifetime, issuer: root.subject,
            subject: intermediateName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                Critical(NameConstraints(permittedURIDomains: [trustDomain]))
                SubjectKeyIdentifier(hash: intermediateKey.publicKey)
                AuthorityKeyIdentifier(keyIdentifier: try root.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: rootKey)
        return (
            CertificateAuthority(
                trustDomain: trustDomain, root: root, intermediate: intermediate,
                intermediateKey: intermediateKey), rootKey
        )
    }

    /// A workload certificate: the SPIFFE ID as its only URI SAN, a random 128-bit serial, EKU
    /// clientAuth (and serverAuth with DNS names when `server`).
    public func issue(
        spiffeID: SPIFFEID, publicKey: Certificate.PublicKey, dnsNames: [String] = [], server: Bool = false,
        lifetime: TimeInterval = 3600, now: Date = Date()
    ) throws -> Certificate {
        guard spiffeID.trustDomain == trustDomain else {
            throw PKIError.outsideTrustDomain(spiffeID: spiffeID.description, trustDomain: trustDomain)
        }
        guard lifetime > 0, now + lifetime <= intermediate.notValidAfter else {
            throw PKIError.invalidRequest("the lifetime must be positive and end before the issuing CA expires")
        }
        if server && dnsNames.isEmpty { throw PKIError.invalidRequest("a server certificate needs at least one DNS name") }
        var serial = [UInt8](repeating: 0, count: 16)
        for index in serial.indices { serial[index] = UInt8.random(in: 0...255) }
        serial[0] &= 0x7F  // positive
        serial[0] |= 0x01  // and exactly 16 bytes
        let subject = try DistinguishedName {
            OrganizationName("Portcullis")
            CommonName(String(spiffeID.path.split(separator: "/").last ?? "workload"))
        }
        let names: [GeneralName] = [.uniformResourceIdentifier(spiffeID.description)] + dnsNames.map { .dnsName($0) }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: serial), publicKey: publicKey,
            notValidBefore: now - 60, notValidAfter: now + lifetime, issuer: intermediate.subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: false))
                try ExtendedKeyUsage(server ? [.serverAuth, .clientAuth] : [.clientAuth])
                SubjectAlternativeNames(names)
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: try intermediate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: intermediateKey)
    }
}
