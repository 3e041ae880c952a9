import Foundation
import SwiftASN1
import X509

/// Why a certificate was revoked: the CRLReason codes of RFC 5280 §5.3.1. The raw values are the
/// names `portcullis cert revoke --reason` accepts. Code 8, removeFromCRL, is left out: it only has
/// a meaning in delta CRLs, which Portcullis does not produce.
public enum RevocationReason: String, Sendable, Hashable, CaseIterable {
    case unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation,
        certificateHold, privilegeWithdrawn, aACompromise

    /// The ENUMERATED value written in the CRL entry's reasonCode extension.
    public var code: Int {
        switch self {
        case .unspecified: 0
        case .keyCompromise: 1
        case .cACompromise: 2
        case .affiliationChanged: 3
        case .superseded: 4
        case .cessationOfOperation: 5
        case .certificateHold: 6
        case .privilegeWithdrawn: 9
        case .aACompromise: 10
        }
    }
}

/// One entry of a CRL: a serial issued by the intermediate, when it was revoked, and why.
public struct RevokedCertificate: Sendable, Hashable {
    public let serialNumber: Certificate.SerialNumber
    public let revocationDate: Date
    public let reason: RevocationReason

    public init(serialNumber: Certificate.SerialNumber, revocationDate: Date, reason: RevocationReason) {
        self.serialNumber = serialNumber
        self.revocationDate = revocationDate
        self.reason = reason
    }
}

/// A v2 CRL (RFC 5280 §5) signed by the issuing intermediate with ECDSA P-256/SHA-256, for verifiers
/// that do not follow the gateways' NOTIFY feed (`openssl verify -crl_check`, other proxies). It
/// carries the authorityKeyIdentifier and cRLNumber extensions RFC 5280 requires of conforming CAs.
public struct CertificateRevocationList: Sendable {
    /// The signed CertificateList in DER, served as `application/pkix-crl`.
    public let derBytes: [UInt8]
    /// When verifiers should fetch a new CRL; a server can derive its cache lifetime from it.
    public let nextUpdate: Date

    /// The same CRL as PEM, `-----BEGIN X509 CRL-----`.
    public var pemString: String { PEMText.of(PEMDocument(type: "X509 CRL", derBytes: derBytes)) }

    /// Signs a complete CRL listing `revoked`. `number` must grow with every CRL issued (RFC 5280
    /// §5.2.3), so verifiers can tell the newer of two CRLs apart.
    public init(
        authority: CertificateAuthority, revoked: [RevokedCertificate], number: UInt64,
        thisUpdate: Date, nextUpdate: Date
    ) throws(PKIError) {
        guard nextUpdate > thisUpdate else {
            throw .invalidRequest("the CRL's nextUpdate (\(nextUpdate)) must come after its thisUpdate (\(thisUpdate))")
        }
        do {
            guard let keyIdentifier = try authority.intermediate.extensions.subjectKeyIdentifier?.keyIdentifier else {
                throw PKIError.signingFailed("the intermediate has no subject key identifier to name in the CRL")
            }
            let tbs = try Self.serializeTBSCertList(
                issuer: authority.intermediate.subject, revoked: revoked, number: number, keyIdentifier: keyIdentifier,
                thisUpdate: thisUpdate, nextUpdate: nextUpdate)
            let signature = try authority.intermediateKey.sign(bytes: tbs, signatureAlgorithm: .ecdsaWithSHA256)
            var coder = DER.Serializer()
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                coder.serializeRawBytes(tbs)
                try Self.serializeSignatureAlgorithm(into: &coder)
                try coder.serialize(ASN1BitString(bytes: ArraySlice(signature.rawRepresentation)))
            }
            derBytes = coder.serializedBytes
        } catch let error as PKIError {
            throw error
        } catch {
            throw .signingFailed("cannot sign the CRL: \(error)")
        }
        self.nextUpdate = nextUpdate
    }

    /// TBSCertList (RFC 5280 §5.1.2). An empty revocation list is left out entirely, as §5.1.2.6 requires.
    private static func serializeTBSCertList(
        issuer: DistinguishedName, revoked: [RevokedCertificate], number: UInt64, keyIdentifier: ArraySlice<UInt8>,
        thisUpdate: Date, nextUpdate: Date
    ) throws -> [UInt8] {
        var coder = DER.Serializer()
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(1)  // version v2
            try serializeSignatureAlgorithm(into: &coder)
            try coder.serialize(issuer)
            try serializeTime(thisUpdate, into: &coder)
            try serializeTime(nextUpdate, into: &coder)
            if !revoked.isEmpty {
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    for entry in revoked { try serializeEntry(entry, into: &coder) }
                }
            }
            var numberCoder = DER.Serializer()
            try numberCoder.serialize(number)
            let extensions = [
                try Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: keyIdentifier), critical: false),
                Certificate.Extension(oid: cRLNumberOID, critical: false, value: ArraySlice(numberCoder.serializedBytes)),
            ]
            try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                try coder.serializeSequenceOf(extensions)
            }
        }
        return coder.serializedBytes
    }

    /// One revokedCertificates entry. The reasonCode extension is omitted for `unspecified`, as
    /// RFC 5280 §5.3.1 asks.
    private static func serializeEntry(_ entry: RevokedCertificate, into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(entry.serialNumber.bytes)
            try serializeTime(entry.revocationDate, into: &coder)
            if entry.reason != .unspecified {
                var reasonCoder = DER.Serializer()
                try entry.reason.code.serialize(into: &reasonCoder, withIdentifier: .enumerated)
                let reason = Certificate.Extension(
                    oid: reasonCodeOID, critical: false,
                    value: ArraySlice(reasonCoder.serializedBytes))
                try coder.serializeSequenceOf([reason])
            }
        }
    }

    /// ecdsa-with-SHA256 with its parameters absent (RFC 5758 §3.2).
    private static func serializeSignatureAlgorithm(into coder: inout DER.Serializer) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(ecdsaWithSHA256OID)
        }
    }

    /// UTCTime through 2049 and GeneralizedTime from 2050, whole seconds in UTC (RFC 5280 §5.1.2.4).
    private static func serializeTime(_ date: Date, into coder: inout DER.Serializer) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let (year, month, day) = (parts.year!, parts.month!, parts.day!)
        let (hours, minutes, seconds) = (parts.hour!, parts.minute!, parts.second!)
        if (1950..<2050).contains(year) {
            try coder.serialize(UTCTime(year: year, month: month, day: day, hours: hours, minutes: minutes, seconds: seconds))
        } else {
            try coder.serialize(
                GeneralizedTime(
                    year: year, month: month, day: day, hours: hours, minutes: minutes,
                    seconds: seconds, fractionalSeconds: 0))
        }
    }

    private static let ecdsaWithSHA256OID: ASN1ObjectIdentifier = [1, 2, 840, 10045, 4, 3, 2]
    private static let cRLNumberOID: ASN1ObjectIdentifier = [2, 5, 29, 20]
    private static let reasonCodeOID: ASN1ObjectIdentifier = [2, 5, 29, 21]
}
