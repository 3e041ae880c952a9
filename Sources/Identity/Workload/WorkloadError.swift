import Foundation
import HTTPTypes

/// Why the Workload API (`/v1/certs/…`) or an operator's certificate command refused. Each case
/// has one HTTP status and one stable `error` code; messages never contain a token, a key or an
/// assertion.
public enum WorkloadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The identity service has no CA configured (`identity.ca_directory`) (503).
    case notConfigured
    /// The body is not a CSR (PEM or DER) or `{"csr", "join_token"}` JSON (400).
    case malformedRequest(String)
    /// The CSR is not signed by the key it carries: the caller does not hold that key (400).
    case invalidCSRSignature
    /// The CSR asks for names other than the service account's bound SPIFFE ID (403).
    case namesNotBound(requested: [String], bound: String)
    /// Neither a join token nor a gateway assertion from a client certificate came with the request (401).
    case unauthenticated
    /// The join token is unknown, expired or already used (401). One message for all three, so
    /// the answer does not tell a guesser which tokens exist.
    case invalidJoinToken
    /// The gateway's assertion did not verify, or does not describe an mTLS-authenticated service
    /// calling this endpoint (401).
    case invalidAssertion(String)
    /// The certificate a renewal was presented with may not renew (401).
    case renewalRefused(RenewalRefusal)
    /// The service account is disabled or has no SPIFFE binding (403).
    case serviceNotEligible(String)
    /// No service account of that name (404).
    case unknownService(String)
    /// `cert revoke <serial>` for a serial the Workload API never issued: give the certificate file (404).
    case unknownSerial(String)
    /// An operator input is out of range (400).
    case invalidInput(String)
    /// The CA refused or failed to sign (500).
    case signingFailed(String)
    /// PostgreSQL failed; details are logged, not returned (503).
    case unavailable(String)

    public var description: String {
        switch self {
        case .notConfigured: "the workload certificate API is not configured (identity.ca_directory)"
        case let .malformedRequest(reason): "malformed certificate request: \(reason)"
        case .invalidCSRSignature: "the certificate signing request is not signed by the key it contains"
        case let .namesNotBound(requested, bound):
            "the certificate signing request asks for \(requested.joined(separator: ", ")); this service is bound to \(bound) only "
                + "(leave the names out or request exactly uri:\(bound))"
        case .unauthenticated:
            "present a join token or, through the gateway, the service's current client certificate"
        case .invalidJoinToken: "the join token is unknown, expired or already used"
        case let .invalidAssertion(reason): "the gateway assertion is not acceptable: \(reason)"
        case let .renewalRefused(refusal): "renewal refused: \(refusal)"
        case let .serviceNotEligible(reason): reason
        case let .unknownService(name): "service account '\(name)' not found"
        case let .unknownSerial(serial):
            "no certificate with serial \(serial) was issued by the workload API; pass the certificate file instead"
        case let .invalidInput(reason): reason
        case let .signingFailed(reason): "the CA could not sign: \(reason)"
        case let .unavailable(reason): "the identity store is unavailable: \(reason)"
        }
    }

    /// HTTP status and `error` code of the JSON error body.
    var classification: (status: HTTPResponse.Status, code: String) {
        switch self {
        case .notConfigured: (.serviceUnavailable, "not_configured")
        case .malformedRequest: (.badRequest, "malformed_request")
        case .invalidCSRSignature: (.badRequest, "invalid_csr_signature")
        case .namesNotBound: (.forbidden, "names_not_bound")
        case .unauthenticated: (.unauthorized, "unauthenticated")
        case .invalidJoinToken: (.unauthorized, "invalid_join_token")
        case .invalidAssertion: (.unauthorized, "invalid_assertion")
        case .renewalRefused: (.unauthorized, "renewal_refused")
        case .serviceNotEligible: (.forbidden, "service_not_eligible")
        case .unknownService: (.notFound, "not_found")
        case .unknownSerial: (.notFound, "not_found")
        case .invalidInput: (.badRequest, "invalid_input")
        case .signingFailed: (.internalServerError, "signing_failed")
        case .unavailable: (.serviceUnavailable, "unavailable")
        }
    }
}

/// What the Workload API needs besides the CA itself. Defaults suit production; tests shorten
/// the lifetimes.
public struct WorkloadSettings: Sendable {
    /// Lifetime of the certificates `/v1/certs/sign` issues. Short, because renewal is automatic
    /// (`portcullis cert renew --watch`) and revocation only has to outlast it.
    public var certificateLifetime: TimeInterval = 3600
    /// The gateway route that publishes the identity API: a renewal's assertion must be addressed
    /// to it (`aud`), so an assertion minted for another upstream cannot be replayed here.
    public var gatewayRoute: String = "identity"
    /// `iss` of the gateway's assertions (`GatewaySettings.assertionIssuer`).
    public var assertionIssuer: String = "portcullis-gateway"
    /// Longest lifetime an operator may give a join token: it is a bearer credential for a
    /// service's identity until used.
    public var maxJoinTokenLifetime: TimeInterval = 7 * 86_400
    /// Validity of a served CRL (nextUpdate − thisUpdate); a fresh one is signed when a
    /// revocation changes the list or half of this has passed.
    public var crlLifetime: TimeInterval = 3600

    public init() {}
}
