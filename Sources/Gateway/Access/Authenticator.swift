import Foundation
import HTTPTypes
import Identity
import Tokens

/// Why credentials that were presented were not accepted. Presented-but-bad credentials never
/// fall back to anonymous: that would let a broken token reach public-route policy as nobody.
public enum AuthenticationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidToken(String)
    case revoked
    case unknownWorkload(String)
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
        case .invalidToken, .revoked, .unknownWorkload: false
        }
    }

    public var description: String {
        switch self {
        case .revocationStateUnavailable: "revocation state is unavailable; retry shortly"
        case .policyStateUnavailable: "the policy in force may be outdated; retry shortly"
        case let .invalidToken(reason): "the bearer token is not valid: \(reason)"
        case .revoked: "the credential has been revoked"
        case let .unknownWorkload(spiffeID): "no active service account is bound to \(spiffeID)"
        }
    }
}

/// The authentication chain: bearer token, then session cookie, then client certificate, else
/// anonymous. Per request it verifies at most one signature (tokens already seen hit the cache)
/// and reads the revocation snapshot; it never touches the database.
public struct Authenticator: Sendable {
    let verificationKeys: @Sendable () -> VerificationKeys
    let claimsPolicy: ClaimsPolicy
    let cache: VerifiedTokenCache
    let sessions: SessionCookieCodec?
    let directory: RevocationFeed
    let policiesSynchronized: @Sendable () -> Bool

    /// `policiesSynchronized` says whether the policy set in force follows its source (the policy
    /// feed's state with `policies.source: database`); it is read per request and must be quick.
    public init(verificationKeys: @escaping @Sendable () -> VerificationKeys, claimsPolicy: ClaimsPolicy,
                sessions: SessionCookieCodec?, directory: RevocationFeed, policiesSynchronized: @escaping @Sendable () -> Bool = { true },
                cache: VerifiedTokenCache = VerifiedTokenCache()) {
        self.verificationKeys = verificationKeys
        self.claimsPolicy = claimsPolicy
        self.cache = cache
        self.sessions = sessions
        self.directory = directory
        self.policiesSynchronized = policiesSynchronized
    }

    public func authenticate(_ fields: HTTPFields, certificate: ClientCertificate?, now: Date = Date()) throws(AuthenticationFailure) -> Principal {
        let snapshot = directory.snapshot
        let presentsCredentials = Self.bearerToken(fields) != nil || certificate != nil
            || Self.cookie(named: IdentityHeaderFilter.sessionCookieName, in: fields) != nil
        if presentsCredentials && !snapshot.synchronized { throw .revocationStateUnavailable }
        if presentsCredentials && !policiesSynchronized() { throw .policyStateUnavailable }
        if let token = Self.bearerToken(fields) {
            let policy = claimsPolicy
            let keys = verificationKeys
            let claims: Claims
            do {
                claims = try cache.verified(token, now: now) { token throws(TokenError) in
                    try PasetoPublicVerifier(keys: keys(), policy: policy).verify(token, now: now)
                }
            } catch {
                throw .invalidToken(error.description)
            }
            guard !snapshot.isRevoked(claims) else { throw .revoked }
            return principal(claims, method: .token, certificate: certificate)
        }
        if let sessions, let cookie = Self.cookie(named: IdentityHeaderFilter.sessionCookieName, in: fields),
           let claims = try? sessions.open(cookie, now: now), claims.sessionID.map(snapshot.isSessionRevoked) == false,
           !snapshot.isRevoked(claims) {
            var principal = principal(claims, method: .session, certificate: certificate)
            principal.renewedSessionCookie = renewal(of: claims, with: sessions, now: now)
            return principal
        }
        if let certificate, let spiffeID = certificate.spiffeID {
            // The handshake refused the certificate if it was revoked then; this catches a
            // revocation that arrived while the connection stayed open.
            guard !snapshot.isCertificateRevoked(serial: certificate.serial) else { throw .revoked }
            guard let service = snapshot.services[spiffeID] else { throw .unknownWorkload(spiffeID) }
            return Principal(kind: .service, name: service.name, method: .mtls, roles: service.roles, groups: [], mfa: false,
                             authenticatedAt: now, sessionID: nil, spiffeID: spiffeID)
        }
        return .anonymous
    }

    /// Sliding idle timeout: a cookie past half its idle window is re-sealed with a fresh one,
    /// never beyond the identity session's absolute end. An active browser stays signed in, an
    /// idle one is signed out, and most requests (the first half of each window) cost nothing.
    func renewal(of claims: Claims, with sessions: SessionCookieCodec, now: Date) -> RenewedSessionCookie? {
        let idleWindow = claims.expiresAt.timeIntervalSince(claims.issuedAt)
        guard claims.expiresAt.timeIntervalSince(now) < idleWindow / 2 else { return nil }
        var renewed = claims
        renewed.issuedAt = now
        renewed.expiresAt = min(now + idleWindow, claims.sessionExpiresAt ?? claims.expiresAt)
        renewed.tokenID = Claims.newTokenID()
        guard renewed.expiresAt > claims.expiresAt, let sealed = try? sessions.seal(renewed) else { return nil }
        return RenewedSessionCookie(value: sealed, maxAge: Int(renewed.expiresAt.timeIntervalSince(now)))
    }

    private func principal(_ claims: Claims, method: AuthMethod, certificate: ClientCertificate?) -> Principal {
        Principal(kind: claims.subjectKind == .service ? .service : .user, name: claims.subject, method: method, roles: claims.roles,
                  groups: claims.groups, mfa: claims.mfaTime != nil, authenticatedAt: claims.mfaTime ?? claims.issuedAt,
                  sessionID: claims.sessionID, spiffeID: certificate?.spiffeID)
    }

    static func bearerToken(_ fields: HTTPFields) -> String? {
        guard let value = fields[.authorization], value.utf8.count > 7 else { return nil }
        let scheme = value.prefix(7)
        guard scheme.lowercased() == "bearer " else { return nil }
        return String(value.dropFirst(7))
    }

    /// The value of one cookie across all `Cookie` fields; nil when absent or given twice
    /// (two values for the session cookie is an attack, not a browser).
    static func cookie(named name: String, in fields: HTTPFields) -> String? {
        var found: String?
        for value in fields[values: .cookie] {
            for pair in value.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard trimmed.hasPrefix(name + "=") else { continue }
                if found != nil { return nil }
                found = String(trimmed.dropFirst(name.count + 1))
            }
        }
        return found
    }
}
