import Crypto
import Foundation
import SwiftASN1
@_spi(DisableValidityCheck) import X509

/// What `portcullis cert inspect <file>` shows about a certificate, decoded once so the CLI and the
/// admin API print the same facts.
public struct CertificateSummary: Sendable {
    public let certificate: Certificate
    public let subject: String
    public let issuer: String
    /// `Certificate.SerialNumber.hex`, the form `cert revoke` accepts.
    public let serial: String
    public let dnsNames: [String]
    public let uris: [String]
    public let ipAddresses: [String]
    /// Set only when the certificate is a valid X.509-SVID (see `SPIFFEID(certificate:)`).
    public let spiffeID: SPIFFEID?
    public let notBefore: Date
    public let notAfter: Date
    /// "ECDSA P-256", "Ed25519", …
    public let keyType: String
    public let extendedKeyUsages: [String]
    public let isCertificateAuthority: Bool
    /// Lower-case hex SHA-256 of the DER encoding.
    public let sha256Fingerprint: String

    public init(certificate: Certificate) throws(PKIError) {
        self.certificate = certificate
        subject = certificate.subject.description
        issuer = certificate.issuer.description
        serial = certificate.serialNumber.hex
        notBefore = certificate.notValidBefore
        notAfter = certificate.notValidAfter
        keyType = Self.keyType(certificate.publicKey)
        spiffeID = try? SPIFFEID(certificate: certificate)
        sha256Fingerprint = try certificate.sha256Fingerprint()
        let names: SubjectAlternativeNames?
        do {
            names = try certificate.extensions.subjectAlternativeNames
            extendedKeyUsages = try certificate.extensions.extendedKeyUsage.map { $0.map(\.description) } ?? []
            if case .isCertificateAuthority = try certificate.extensions.basicConstraints {
                isCertificateAuthority = true
            } else {
                isCertificateAuthority = false
            }
        } catch {
            throw .malformedCertificate("cannot decode the extensions of \(certificate.subject): \(error)")
        }
        var dnsNames: [String] = []
        var uris: [String] = []
        var ipAddresses: [String] = []
        for name in names ?? SubjectAlternativeNames() {
            switch name {
            case .dnsName(let dns): dnsNames.append(dns)
            case .uniformResourceIdentifier(let uri): uris.append(uri)
            case .ipAddress(let address): ipAddresses.append(Self.ipAddress(Array(address.bytes)))
            default: continue
            }
        }
        (self.dnsNames, self.uris, self.ipAddresses) = (dnsNames, uris, ipAddresses)
    }

    /// Whether the certificate was issued under `authority`.
    public enum ChainStatus: Sendable, Hashable {
        case chains
        case doesNotChain(String)
    }

    /// Checks signatures, basic constraints and name constraints up to the authority's root, through its
    /// intermediate and any `presented` certificates (the rest of the file). Validity dates are left
    /// out on purpose: `render()` reports expiry on its own line, and an expired certificate still
    /// answers "was this issued by our CA?".
    public func chainsTo(_ authority: CertificateAuthority, presented: [Certificate] = []) async -> ChainStatus {
        var verifier = Verifier(rootCertificates: CertificateStore([authority.root])) {
            RFC5280Policy.withValidityCheckDisabled()
        }
        let intermediates = CertificateStore([authority.intermediate] + presented)
        switch await verifier.validate(leaf: certificate, intermediates: intermediates) {
        case .validCertificate:
            return .chains
        case .couldNotValidate(let failures) where failures.isEmpty:
            return .doesNotChain("not issued by the CA for \(authority.trustDomain) (no path to its root)")
        case .couldNotValidate(let failures):
            return .doesNotChain(failures.map(\.policyFailureReason.description).joined(separator: "; "))
        }
    }

    /// The text `portcullis cert inspect` prints: one "Label: value" line per fact, empty facts left
    /// out, and the chain line only when a CA was configured to check against.
    public func render(chain: ChainStatus? = nil, now: Date = Date()) -> String {
        let validity: String
        if now < notBefore {
            validity = "not yet valid, starts in \(Self.span(notBefore.timeIntervalSince(now)))"
        } else if now > notAfter {
            validity = "EXPIRED \(Self.span(now.timeIntervalSince(notAfter))) ago"
        } else {
            validity = "valid, expires in \(Self.span(notAfter.timeIntervalSince(now)))"
        }
        var lines: [(String, String)] = [
            ("Subject", subject),
            ("Issuer", issuer),
            ("Serial", serial),
            ("SPIFFE ID", spiffeID?.description ?? "none"),
            ("DNS names", dnsNames.joined(separator: ", ")),
            ("URIs", uris.joined(separator: ", ")),
            ("IP addresses", ipAddresses.joined(separator: ", ")),
            ("Not before", notBefore.formatted(.iso8601)),
            ("Not after", notAfter.formatted(.iso8601)),
            ("Status", validity),
            ("Key", keyType),
            ("Extended key usage", extendedKeyUsages.joined(separator: ", ")),
            ("CA", isCertificateAuthority ? "yes" : "no"),
            ("SHA-256", sha256Fingerprint),
        ]
        switch chain {
        case .chains: lines.append(("Chains to CA", "yes"))
        case .doesNotChain(let reason): lines.append(("Chains to CA", "NO: \(reason)"))
        case nil: break
        }
        let width = lines.map(\.0.count).max()! + 2
        return lines.filter { !$0.1.isEmpty }
            .map { label, value in (label + ":").padding(toLength: width, withPad: " ", startingAt: 0) + value }
            .joined(separator: "\n")
    }

    private static func keyType(_ key: Certificate.PublicKey) -> String {
        if P256.Signing.PublicKey(key) != nil { return "ECDSA P-256" }
        if P384.Signing.PublicKey(key) != nil { return "ECDSA P-384" }
        if P521.Signing.PublicKey(key) != nil { return "ECDSA P-521" }
        if Curve25519.Signing.PublicKey(key) != nil { return "Ed25519" }
        return String(describing: key)  // RSA, e.g. "RSA2048.PublicKey"
    }

    private static func ipAddress(_ bytes: [UInt8]) -> String {
        switch bytes.count {
        case 4:
            return bytes.map(String.init).joined(separator: ".")
        case 16:
            return stride(from: 0, to: 16, by: 2)
                .map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
        default:
            return hexEncoded(bytes)
        }
    }

    /// "2h 5m", "42m 10s", "7s", "3d 4h": the two largest units, enough to judge a deadline.
    private static func span(_ seconds: TimeInterval) -> String {
        let total = max(0, Int(seconds.rounded()))
        let parts = [(total / 86_400, "d"), (total % 86_400 / 3600, "h"), (total % 3600 / 60, "m"), (total % 60, "s")]
            .drop { $0.0 == 0 }.prefix(2).filter { $0.0 > 0 }.map { "\($0.0)\($0.1)" }
        return parts.isEmpty ? "0s" : parts.joined(separator: " ")
    }
}
