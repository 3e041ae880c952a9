import AccessModel
import Foundation
import HTTPTypes
import Tokens

/// The authentication chain: bearer token, then session cookie, then client certificate, else
/// anonymous. The first credential presented decides: one that does not hold is refused, never
/// passed over for the next. A client certificate on the connection must be within its validity
/// period and not revoked on every request, whatever authenticates it: TLS session resumption
/// hands a session the certificate of an earlier handshake without verifying it again. Per
/// request it verifies at most one signature (tokens already seen hit the cache), compares two
/// dates and reads the revocation snapshot; it never touches the database.
public struct Authenticator: Sendable {
    let verificationKeys: @Sendable () -> VerificationKeys
    let claimsPolicy: ClaimsPolicy
    let cache: VerifiedTokenCache
    let sessions: SessionCookieCodec?
    let policiesSynchronized: @Sendable () -> Bool

    /// `policiesSynchronized` says whether the policy set in force follows its source (the policy
    /// feed's state with `policies.source: database`); it is read per request and must be quick.
    public init(
        verificationKeys: @escaping @Sendable () -> VerificationKeys, claimsPolicy: ClaimsPolicy,
        sessions: SessionCookieCodec?, policiesSynchronized: @escaping @Sendable () -> Bool = { true },
        cache: VerifiedTokenCache = VerifiedTokenCache()
    ) {
        self.verificationKeys = verificationKeys
        self.claimsPolicy = claimsPolicy
        self.cache = cache
        self.sessions = sessions
        self.policiesSynchronized = policiesSynchronized
    }

    /// `directory`: the credential directory's state, read once for the whole request.
    public func authenticate(
        _ fields: HTTPFields, certificate: ClientCertificate?, directory snapshot: any CredentialSnapshot,
        now: Date = Date()
    ) throws(AuthenticationFailure) -> Principal {
        let token = Self.bearerToken(fields)
        let sessionCookies = Self.cookies(named: IdentityHeaderFilter.sessionCookieName, in: fields)
        let presentsCredentials = token != nil || certificate != nil || !sessionCookies.isEmpty
        if presentsCredentials && !snapshot.isSynchronized { throw .revocationStateUnavailable }
        if presentsCredentials && !policiesSynchronized() { throw .policyStateUnavailable }
        if let certificate {
            guard certificate.isValid(at: now) else { throw .certificateNotValid(notBefore: certificate.notBefore, notAfter: certificate.notAfter) }
            // The handshake refused the certificate if it was revoked then; this catches a
            // revocation that arrived since (an open connection, or a resumed session).
            guard !snapshot.isCertificateRevoked(serial: certificate.serial) else { throw .revoked }
        }
        if let token {
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
            guard !snapshot.isRevoked(claims), let current = Self.memberships(of: claims, in: snapshot) else { throw .revoked }
            return principal(
                claims, memberships: current, method: .token, certificate: try Self.boundCertificate(claims, connection: certificate))
        }
        if !sessionCookies.isEmpty {
            // A presented cookie decides: it never falls back to the certificate or to anonymous.
            let claims = try session(sessionCookies, snapshot: snapshot, now: now)
            guard let current = Self.memberships(of: claims, in: snapshot) else { throw .invalidSession("its account is not active") }
            var principal = principal(claims, memberships: current, method: .session, certificate: nil)
            principal.renewedSessionCookie = sessions.flatMap { renewal(of: claims, with: $0, now: now) }
            return principal
        }
        if let certificate, let spiffeID = certificate.spiffeID {
            guard let service = snapshot.workload(boundTo: spiffeID) else { throw .unknownWorkload(spiffeID) }
            return Principal(
                kind: .service, name: service.name, method: .mtls, roles: service.roles, groups: [], mfa: false,
                authenticatedAt: now, sessionID: nil, certificate: certificate)
        }
        return .anonymous
    }

    /// The claims of the one session cookie presented, if it opens, belongs to a session that
    /// has not ended and to a subject that was not revoked.
    private func session(_ cookies: [Substring], snapshot: any CredentialSnapshot, now: Date) throws(AuthenticationFailure) -> Claims {
        guard cookies.count == 1 else { throw .invalidSession("it was sent more than once") }
        guard let sessions else { throw .invalidSession("this gateway does not accept sessions") }
        let claims: Claims
        do {
            claims = try sessions.open(String(cookies[0]), now: now)
        } catch {
            throw .invalidSession(error.description)
        }
        guard let sessionID = claims.sessionID else { throw .invalidSession("it names no session") }
        guard !snapshot.isSessionRevoked(sessionID) else { throw .invalidSession("the session has ended") }
        guard !snapshot.isRevoked(claims) else { throw .invalidSession("its subject's credentials have been revoked") }
        return claims
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

    /// The certificate a token is bound to (RFC 8705), which must be the one the connection
    /// presented; nil for an unbound token, which then stands without any certificate.
    static func boundCertificate(_ claims: Claims, connection: ClientCertificate?) throws(AuthenticationFailure) -> ClientCertificate? {
        guard let thumbprint = claims.certificateThumbprint else { return nil }
        guard let connection else { throw .boundCertificateMissing }
        guard connection.thumbprint == thumbprint else { throw .boundToAnotherCertificate }
        return connection
    }

    /// `certificate`: the one that authenticated the principal together with the token, if any.
    private func principal(
        _ claims: Claims, memberships: (roles: [String], groups: [String]), method: AuthMethod, certificate: ClientCertificate?
    ) -> Principal {
        var principal = Principal(
            kind: claims.subjectKind == .service ? .service : .user, name: claims.subject, method: method, roles: memberships.roles,
            groups: memberships.groups, mfa: claims.mfaTime != nil, authenticatedAt: claims.mfaTime ?? claims.issuedAt,
            sessionID: claims.sessionID, certificate: certificate)
        // A session opened with an identity provider records it as the method `fed:<provider>`.
        principal.identityProvider = claims.authMethods.first { $0.hasPrefix("fed:") }.map { String($0.dropFirst(4)) }
        return principal
    }

    /// The roles and groups a credential stands on now: the directory's, for people and services
    /// alike (a role removed a moment ago is gone from every open session and token); for an
    /// account the directory has not seen yet, what the credential was issued with. nil when the
    /// account is no longer active.
    static func memberships(of claims: Claims, in snapshot: any CredentialSnapshot) -> (roles: [String], groups: [String])? {
        let account = claims.subjectKind == .service ? snapshot.service(claims.subject) : snapshot.account(claims.subject)
        guard let account else { return (claims.roles, claims.groups) }
        return account.isActive ? (account.roles, account.groups) : nil
    }

    static func bearerToken(_ fields: HTTPFields) -> String? {
        guard let value = fields[.authorization], value.utf8.count > 7 else { return nil }
        let scheme = value.prefix(7)
        guard scheme.lowercased() == "bearer " else { return nil }
        return String(value.dropFirst(7))
    }

    /// The value of one cookie across all `Cookie` fields; nil when absent or given twice
    /// (two values for one cookie is an attack, not a browser).
    static func cookie(named name: String, in fields: HTTPFields) -> String? {
        let values = cookies(named: name, in: fields)
        return values.count == 1 ? String(values[0]) : nil
    }

    /// Every value of one cookie across all `Cookie` fields, in order; empty (no allocation)
    /// when it is absent.
    static func cookies(named name: String, in fields: HTTPFields) -> [Substring] {
        var found: [Substring] = []
        for value in fields[values: .cookie] {
            for pair in value.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard trimmed.hasPrefix(name + "=") else { continue }
                found.append(trimmed.dropFirst(name.count + 1))
            }
        }
        return found
    }
}
