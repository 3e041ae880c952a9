import Audit
import Foundation
import Tokens

/// Portcullis as the OpenID provider of internal tools: authorization codes for a person's
/// identity session, their exchange (PKCE checked) for a grant, and the grant's refresh tokens.
/// Tokens themselves are signed by the provider module; this is what PostgreSQL must remember.
/// Every step is audited with the client, the person and the reason of a refusal.
extension IdentityService {
    /// A code lives for one redirect.
    public static let openIDCodeLifetime: TimeInterval = 60

    /// Why the token endpoint refuses a grant (OAuth 2.0 `error` codes, RFC 6749 §5.2).
    public enum OpenIDGrantRefusal: Error, Sendable, Equatable {
        /// Code or refresh token unknown, used, expired, for another client or redirect URI, a
        /// wrong PKCE verifier, or its session ended: `invalid_grant`, with the reason for the audit.
        case invalidGrant(String)
        case unavailable
    }

    /// An authorization code for `client` over the open session; nil when the session has ended.
    public func issueOpenIDCode(
        client: OpenIDClient, sessionID: UUID, login: String, redirectURI: String, codeChallenge: String?, nonce: String?,
        scopes: [String], authTime: Date, amr: [String], from info: ClientInfo
    ) async throws(IdentityError) -> String? {
        let code = OpaqueSecret.generate(prefix: "poc_")
        let stored = try await store.createOpenIDCode(
            hash: secretHasher.digest(code), clientID: client.id, sessionID: sessionID, redirectURI: redirectURI,
            codeChallenge: codeChallenge, nonce: nonce, scopes: scopes, authTime: authTime, amr: amr, lifetime: Self.openIDCodeLifetime)
        recordOpenID(
            "oidc.authorize", login: login, outcome: stored ? "success" : "failure", client: client.id, from: info,
            details: stored ? "code issued for scopes \(scopes.joined(separator: " "))" : "the session has ended")
        return stored ? code : nil
    }

    /// Redeems a code (once: a second presentation revokes what the first granted) for a grant,
    /// checking the client, the exact redirect URI and the PKCE verifier. With `refresh`, the
    /// grant has a refresh token, returned here once.
    public func redeemOpenIDCode(
        _ code: String, client: OpenIDClient, redirectURI: String?, verifier: String?, refresh: Bool, from info: ClientInfo
    ) async throws(OpenIDGrantRefusal) -> (grant: OpenIDGrant, nonce: String?, refreshToken: String?) {
        let codeHash = secretHasher.digest(code)
        let redemption: OpenIDCodeRedemption
        do { redemption = try await store.redeemOpenIDCode(hash: codeHash) } catch { throw .unavailable }
        func refuse(_ reason: String) -> OpenIDGrantRefusal {
            recordOpenID("oidc.token", login: nil, outcome: "failure", client: client.id, from: info, details: "authorization_code: \(reason)")
            return .invalidGrant(reason)
        }
        let issued: OpenIDCode
        switch redemption {
        case .unknown: throw refuse("unknown authorization code")
        case let .replayed(grant):
            throw refuse("authorization code replayed" + (grant.map { "; grant \($0.uuidString.lowercased()) revoked" } ?? ""))
        case let .redeemed(code): issued = code
        }
        guard issued.clientID == client.id else { throw refuse("the code was issued to another client") }
        guard !issued.expired else { throw refuse("the code has expired") }
        guard let redirectURI, redirectURI == issued.redirectURI else { throw refuse("redirect_uri differs from the authorization request's") }
        if let challenge = issued.codeChallenge {
            guard let verifier, Self.isValidVerifier(verifier),
                SecretComparison.equal(Base64URL.encode(Digest.sha256(Array(verifier.utf8))), challenge)
            else { throw refuse("the PKCE code_verifier does not match the challenge") }
        } else if verifier != nil {
            throw refuse("a code_verifier for an authorization request without a challenge")
        }
        let refreshToken = refresh ? OpaqueSecret.generate(prefix: "por_") : nil
        let grant: OpenIDGrant?
        do {
            grant = try await store.createOpenIDGrant(
                id: UUID(), codeHash: codeHash, clientID: client.id, sessionID: issued.sessionID, scopes: issued.scopes,
                authTime: issued.authTime, amr: issued.amr, refreshHash: refreshToken.map(secretHasher.digest),
                refreshLifetime: client.refreshTokenLifetime)
        } catch {
            throw .unavailable
        }
        guard let grant else { throw refuse("the session ended or the code was replayed") }
        recordOpenID(
            "oidc.token", login: grant.login, outcome: "success", client: client.id, from: info,
            details: "authorization_code: grant \(grant.id.uuidString.lowercased())" + (refreshToken == nil ? "" : " with a refresh token"))
        return (grant, issued.nonce, refreshToken)
    }

    /// Exchanges a refresh token for its successor; a reused one revokes the grant.
    public func refreshOpenIDGrant(
        _ token: String, client: OpenIDClient, from info: ClientInfo
    ) async throws(OpenIDGrantRefusal) -> (grant: OpenIDGrant, refreshToken: String) {
        let successor = OpaqueSecret.generate(prefix: "por_")
        let outcome: OpenIDRefresh
        do {
            outcome = try await store.refreshOpenIDGrant(
                hash: secretHasher.digest(token), successor: secretHasher.digest(successor), clientID: client.id)
        } catch {
            throw .unavailable
        }
        let reason: String
        switch outcome {
        case let .rotated(grant):
            recordOpenID(
                "oidc.refresh", login: grant.login, outcome: "success", client: client.id, from: info,
                details: "grant \(grant.id.uuidString.lowercased())")
            return (grant, successor)
        case .unknown: reason = "unknown refresh token"
        case let .ended(why): reason = why
        case let .reused(grant): reason = "refresh token reused; grant \(grant.uuidString.lowercased()) revoked"
        case .otherClient: reason = "the refresh token belongs to another client"
        }
        recordOpenID("oidc.refresh", login: nil, outcome: "failure", client: client.id, from: info, details: reason)
        throw .invalidGrant(reason)
    }

    /// The grant an access token names, if it still stands (userinfo answers from it).
    public func standingOpenIDGrant(_ id: UUID) async throws(IdentityError) -> OpenIDGrant? {
        try await store.standingOpenIDGrant(id)
    }

    /// RFC 7009: revokes the grant of a refresh token presented by its own client. Unknown
    /// tokens are not an error (§2.2).
    public func revokeOpenIDToken(_ token: String, client: OpenIDClient, from info: ClientInfo) async throws(IdentityError) {
        let grant = try await store.revokeOpenIDGrant(refreshHash: secretHasher.digest(token), clientID: client.id)
        recordOpenID(
            "oidc.revoke", login: nil, outcome: "success", client: client.id, from: info,
            details: grant.map { "grant \($0.uuidString.lowercased()) revoked" } ?? "no grant of this client for that token")
    }

    /// The client whose id and secret these are; nil otherwise.
    public func authenticateOpenIDClient(id: String, secret: String) async throws(IdentityError) -> OpenIDClient? {
        try await store.authenticateOpenIDClient(id, secretHash: secretHasher.digest(secret))
    }

    /// RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
    static func isValidVerifier(_ verifier: String) -> Bool {
        (43...128).contains(verifier.utf8.count)
            && verifier.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
            }
    }

    /// An OpenID provider event: the person (when known), the client and what happened.
    public func recordOpenID(_ action: String, login: String?, outcome: String, client: String, from info: ClientInfo?, details: String) {
        recorder.record(
            AuditEvent(
                kind: .authentication, principal: login.map { "User::\"\($0)\"" }, authMethod: "oidc", action: action,
                target: "Client::\"\(client)\"", clientAddress: info?.address, outcome: outcome, details: details))
    }
}
