import AccessModel
import PKI
import Tokens
import X509

/// What the TLS layer learnt about a connection's client certificate, read once when the
/// handshake completes. A full handshake verified it against the internal CA and the revocation
/// list; a resumed session only carries it over from the handshake it resumes, verified then or
/// never again, so ``Authenticator`` checks the validity period and revocation on every request.
extension ClientCertificate {
    /// Describes a DER certificate; nil when it does not parse.
    public init?(der: [UInt8]) {
        guard let parsed = try? Certificate(derEncoded: der) else { return nil }
        let digest = CertificateDigest(der: der)
        self.init(
            spiffeID: (try? SPIFFEID(certificate: parsed))?.description, serial: parsed.serialNumber.hex, sha256: digest.hex,
            thumbprint: Base64URL.encode(digest.bytes), notBefore: parsed.notValidBefore, notAfter: parsed.notValidAfter)
    }
}
