import Foundation

/// Why credentials that were presented were not accepted. Presented-but-bad credentials never
/// fall back to anonymous: that would let a broken token reach public-route policy as nobody.
public enum AuthenticationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidToken(String)
    case revoked
    case unknownWorkload(String)
    /// The session cookie is forged, expired, ended or sent twice: answered like a missing
    /// login (401 or the sign-in page) with the cookie cleared.
    case invalidSession(String)
    /// The connection's client certificate is outside its validity period: possible only on a
    /// resumed TLS session, which carries the certificate of an earlier handshake unchecked.
    case certificateNotValid(notBefore: Date, notAfter: Date)
    /// A token bound to a client certificate (`cnf`) arrived on a connection without one.
    case boundCertificateMissing
    /// A token bound to a client certificate arrived with a different certificate: a stolen token.
    case boundToAnotherCertificate
    /// The revocation feed is not synchronised (starting, PostgreSQL unreachable, or the feed not
    /// proven live within `database.feed_timeout`): whether a credential was revoked cannot be
    /// known, so none is accepted (fail closed).
    case revocationStateUnavailable
    /// The policy feed (`policies.source: database`) is not synchronised: a newer version may
    /// deny what the set in force allows, so no credential is accepted (fail closed).
    case policyStateUnavailable

    /// Whether the failure is a feed outage (503, retry) rather than a bad credential (401).
    public var isUnavailable: Bool {
        switch self {
        case .revocationStateUnavailable, .policyStateUnavailable: true
        case .invalidToken, .revoked, .unknownWorkload, .invalidSession, .certificateNotValid, .boundCertificateMissing,
            .boundToAnotherCertificate:
            false
        }
    }

    public var description: String {
        switch self {
        case .revocationStateUnavailable: "revocation state is unavailable; retry shortly"
        case .policyStateUnavailable: "the policy in force may be outdated; retry shortly"
        case let .invalidToken(reason): "the bearer token is not valid: \(reason)"
        case .revoked: "the credential has been revoked"
        case let .unknownWorkload(spiffeID): "no active service account is bound to \(spiffeID)"
        case let .invalidSession(reason): "the session cookie is not valid: \(reason)"
        case let .certificateNotValid(notBefore, notAfter):
            "the client certificate is valid from \(notBefore.formatted(.iso8601)) to \(notAfter.formatted(.iso8601)), not now; "
                + "connect again with a current certificate"
        case .boundCertificateMissing: "the token is bound to a client certificate and this connection presented none"
        case .boundToAnotherCertificate: "the token is bound to a different client certificate than this connection presented"
        }
    }
}
