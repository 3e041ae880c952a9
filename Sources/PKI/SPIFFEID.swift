/// A SPIFFE ID (`spiffe://<trust-domain>/<path>`), validated as the SPIFFE ID specification
/// requires: lower-case trust domain of `[a-z0-9.-_]`, a non-empty path of segments of
/// `[a-zA-Z0-9.-_]` that are not `.` or `..`, no query, fragment, port or user info.
public struct SPIFFEID: Sendable, Hashable, CustomStringConvertible {
    public let trustDomain: String
    public let path: String

    public init(_ text: String) throws(PKIError) {
        let prefix = "spiffe://"
        guard text.hasPrefix(prefix) else { throw .invalidSPIFFEID(text, "must start with spiffe://") }
        let rest = text.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/") else { throw .invalidSPIFFEID(text, "a workload path is required") }
        let domain = String(rest[..<slash])
        let path = String(rest[slash...])
        let domainCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789.-_")
        guard !domain.isEmpty, domain.allSatisfy(domainCharacters.contains) else {
            throw .invalidSPIFFEID(text, "the trust domain must be lower-case letters, digits, '.', '-' or '_'")
        }
        let segmentCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard !segments.isEmpty else { throw .invalidSPIFFEID(text, "a workload path is required") }
        for segment in segments {
            guard !segment.isEmpty, segment != ".", segment != "..", segment.allSatisfy(segmentCharacters.contains) else {
                throw .invalidSPIFFEID(text, "path segments must be non-empty, not '.' or '..', of letters, digits, '.', '-' or '_'")
            }
        }
        trustDomain = domain
        self.path = path
    }

    public var description: String { "spiffe://\(trustDomain)\(path)" }
}

/// Why a certificate operation was refused.
public enum PKIError: Error, Equatable, CustomStringConvertible {
    case invalidSPIFFEID(String, String)
    case outsideTrustDomain(spiffeID: String, trustDomain: String)
    case invalidTrustDomain(String)
    case invalidRequest(String)
    case fileExists(String)
    case unreadable(String)
    /// A CSR that is not a PKCS#10 request in PEM or DER.
    case invalidCSR(String)
    /// The CSR is not signed by the key it carries: the requester does not hold that key.
    case invalidCSRSignature
    /// A certificate whose fields or extensions cannot be decoded.
    case malformedCertificate(String)
    /// The CA could not sign or encode a certificate or CRL.
    case signingFailed(String)
    case writeFailed(path: String, reason: String)
    /// A credential file's certificate does not belong to its private key.
    case credentialMismatch(String)
    /// A certificate that is not a SPIFFE X.509-SVID (exactly one URI SAN, a SPIFFE ID, not a CA).
    case notAnSVID(String)

    public var description: String {
        switch self {
        case .invalidSPIFFEID(let text, let reason): "invalid SPIFFE ID '\(text)': \(reason)"
        case .outsideTrustDomain(let id, let domain): "\(id) is outside the trust domain \(domain)"
        case .invalidTrustDomain(let domain): "invalid trust domain '\(domain)'"
        case .invalidRequest(let reason): reason
        case .fileExists(let path): "\(path) exists; pass --force to overwrite it"
        case .unreadable(let reason): reason
        case .invalidCSR(let reason): "invalid certificate signing request: \(reason)"
        case .invalidCSRSignature: "the certificate signing request is not signed by the key it contains"
        case .malformedCertificate(let reason): "malformed certificate: \(reason)"
        case .signingFailed(let reason): "the CA could not sign: \(reason)"
        case .writeFailed(let path, let reason): "cannot write \(path): \(reason)"
        case .credentialMismatch(let prefix): "\(prefix).crt does not match \(prefix).key"
        case .notAnSVID(let reason): "not a SPIFFE X.509-SVID: \(reason)"
        }
    }
}
