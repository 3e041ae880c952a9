import Foundation
import PKI
import Tokens

/// The gateway's `X-Portcullis-Assertion` on a request it forwarded to the identity service, read
/// as a statement about the caller's client certificate: the Workload API renews the certificate a
/// service authenticated with, the token endpoint binds the tokens it issues to it, and a
/// certificate-bound token is accepted only with an assertion naming the same certificate. Clients
/// cannot supply the header (the gateway strips identity headers), so only the gateway mints one.
struct GatewayAssertion: Sendable {
    /// The principal's name (a service account when `kind` is `service`).
    let subject: String
    let isService: Bool
    /// `amr`: how the gateway authenticated the caller.
    let methods: [String]
    /// `jti`: the gateway's request id.
    let requestID: String
    /// `cnf.x5t#S256`: the client certificate that authenticated the caller, if one did.
    let certificate: CertificateDigest?

    /// Why an assertion is not accepted.
    enum Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        /// Signature, issuer, audience or lifetime.
        case unverifiable(String)
        case anotherRequest
        case malformedThumbprint
        case notAService
        /// The caller authenticated otherwise (a bearer token for the service does not count).
        case notCertificateOnly([String])
        /// No `cnf.x5t#S256` where a certificate authenticated the caller.
        case certificateNotNamed

        var description: String {
            switch self {
            case let .unverifiable(reason): reason
            case .anotherRequest: "it was minted for another request"
            case .malformedThumbprint: "its cnf.x5t#S256 is not a base64url SHA-256 digest"
            case .notAService: "it names a person, not a service"
            case let .notCertificateOnly(methods):
                "the caller authenticated with \(methods.joined(separator: "+")), not only its client certificate"
            case .certificateNotNamed: "it does not name the client certificate (cnf.x5t#S256)"
            }
        }
    }

    /// Checks that `assertion` verifies against `keys`, was issued by the gateway, is addressed to
    /// the identity route, is within its lifetime and was minted for `method` `path`.
    init(
        _ assertion: String, method: String, path: String, keys: VerificationKeys, settings: WorkloadSettings,
        now: Date
    ) throws(Refusal) {
        let verifier = JWTVerifier(keys: keys, policy: ClaimsPolicy(issuers: [settings.assertionIssuer], audiences: [settings.gatewayRoute]))
        let claims: Claims
        do { claims = try verifier.verify(assertion, now: now) } catch { throw .unverifiable(error.description) }
        guard claims.httpMethod == method, claims.httpPath == path else { throw .anotherRequest }
        var certificate: CertificateDigest?
        if let thumbprint = claims.certificateThumbprint {
            guard let digest = Base64URL.decode(thumbprint).flatMap(CertificateDigest.init(bytes:)) else { throw .malformedThumbprint }
            certificate = digest
        }
        subject = claims.subject
        isService = claims.subjectKind == .service
        methods = claims.authMethods
        requestID = claims.tokenID
        self.certificate = certificate
    }

    /// The certificate of a service that authenticated with it alone (`amr` `["mtls"]`).
    func certificateOnly() throws(Refusal) -> CertificateDigest {
        guard isService else { throw .notAService }
        guard methods == ["mtls"] else { throw .notCertificateOnly(methods) }
        guard let certificate else { throw .certificateNotNamed }
        return certificate
    }
}
