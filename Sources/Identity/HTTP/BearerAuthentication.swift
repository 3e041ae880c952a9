import Foundation
import Hummingbird
import Tokens

extension IdentityService {
    /// The bearer access token of a request to the identity API, verified and checked against the
    /// database (`authenticate(bearer:)`). A token bound to a client certificate (`cnf`) is
    /// accepted only with the gateway's assertion for this request naming that certificate: the
    /// identity listener does not terminate TLS, so without it the certificate is unproven.
    func authenticate(_ request: Request) async throws(IdentityError) -> (claims: Claims, user: User?, service: ServiceAccount?) {
        guard let bearer = IdentityAPI.bearer(request) else { throw .unauthenticated("a bearer access token is required") }
        let authenticated = try await authenticate(bearer: bearer)
        guard let thumbprint = authenticated.claims.certificateThumbprint else { return authenticated }
        let assertion = request.headers[WorkloadAPI.assertionHeader].flatMap {
            try? GatewayAssertion(
                $0, method: request.method.rawValue, path: request.uri.path, keys: keys.verificationKeys,
                settings: settings.workload, now: Date())
        }
        guard let assertion, assertion.subject == authenticated.claims.subject,
            assertion.certificate.map({ Base64URL.encode($0.bytes) }) == thumbprint
        else {
            throw .unauthenticated(
                "the token is bound to a client certificate: present it through the gateway over a connection with that certificate")
        }
        return authenticated
    }
}
