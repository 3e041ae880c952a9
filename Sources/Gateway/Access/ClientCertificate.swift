import Foundation
import PKI
import Tokens
import X509

/// What the TLS layer learnt about a connection's client certificate, read once when the
/// handshake completes. A full handshake verified it against the internal CA and the revocation
/// list; a resumed session only carries it over from the handshake it resumes, verified then or
/// never again, so ``Authenticator`` checks the validity period and revocation on every request.
public struct ClientCertificate: Sendable, Equatable {
    public let spiffeID: String?
    /// Serial number, `Certificate.SerialNumber.hex`.
    public let serial: String
    /// SHA-256 of the DER certificate, hex.
    public let sha256: String
    /// RFC 8705 `x5t#S256` (unpadded base64url of the same SHA-256): what the `cnf` claim of a
    /// token bound to this certificate names.
    public let thumbprint: String
    public let notBefore: Date
    public let notAfter: Date

    /// Describes a DER certificate; nil when it does not parse.
    public init?(der: [UInt8]) {
        guard let parsed = try? Certificate(derEncoded: der) else { return nil }
        let digest = CertificateDigest(der: der)
        spiffeID = (try? SPIFFEID(certificate: parsed))?.description
        serial = parsed.serialNumber.hex
        sha256 = digest.hex
        thumbprint = Base64URL.encode(digest.bytes)
        notBefore = parsed.notValidBefore
        notAfter = parsed.notValidAfter
    }

    /// Whether `now` is inside the validity period (both ends inclusive, as RFC 5280 has it).
    func isValid(at now: Date) -> Bool { notBefore <= now && now <= notAfter }
}
