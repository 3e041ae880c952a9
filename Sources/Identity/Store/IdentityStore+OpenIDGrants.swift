import Foundation
import PostgresNIO

/// An authorization code as issued: what its redemption must match and what it grants.
struct OpenIDCode: Sendable {
    let clientID: String
    let sessionID: UUID
    let redirectURI: String
    let codeChallenge: String?
    let nonce: String?
    let scopes: [String]
    let authTime: Date
    let amr: [String]
    let expired: Bool
}

/// What presenting an authorization code led to.
enum OpenIDCodeRedemption: Sendable {
    case redeemed(OpenIDCode)
    case unknown
    /// Presented before: the grant its first redemption made (if any) is revoked now.
    case replayed(revokedGrant: UUID?)
}

/// A grant as the token and userinfo endpoints see it: whose, for which client, and whether it
/// still stands (not revoked, its identity session open, its person active).
public struct OpenIDGrant: Sendable {
    public let id: UUID
    public let clientID: String
    public let sessionID: UUID
    public let login: String
    public let scopes: [String]
    public let authTime: Date
    public let amr: [String]
}

/// What presenting a refresh token led to.
enum OpenIDRefresh: Sendable {
    case rotated(OpenIDGrant)
    case unknown
    /// The grant or its session ended, its person is no longer active, or the token expired.
    case ended(String)
    /// A token already exchanged: someone holds a copy, so the grant is revoked.
    case reused(UUID)
    case otherClient
}

extension IdentityStore {
    /// Stores a code for an open session of an active user; false when the session has ended.
    func createOpenIDCode(
        hash: [UInt8], clientID: String, sessionID: UUID, redirectURI: String, codeChallenge: String?, nonce: String?, scopes: [String],
        authTime: Date, amr: [String], lifetime: TimeInterval
    ) async throws(IdentityError) -> Bool {
        try await run {
            let rows = try await client.query(
                """
                INSERT INTO oidc_codes (code_hash, client_id, session_id, redirect_uri, code_challenge, nonce, scopes, auth_time, amr, expires_at)
                SELECT \(ByteBuffer(bytes: hash)), \(clientID), s.id, \(redirectURI), \(codeChallenge), \(nonce), \(scopes), \(authTime), \(amr),
                    now() + make_interval(secs => \(lifetime))
                FROM identity_sessions s JOIN identity_users u ON u.id = s.user_id
                WHERE s.id = \(sessionID) AND s.revoked_at IS NULL AND s.expires_at > now() AND u.status = 'active'
                RETURNING session_id
                """, logger: logger)
            for try await _ in rows.decode(UUID.self) { return true }
            return false
        }
    }

    /// Uses a code up. A code presented a second time is marked replayed and the grant of its
    /// first redemption revoked (RFC 6749 §4.1.2), in one statement each, so a replay racing the
    /// first redemption still ends what it granted (see `createOpenIDGrant`).
    func redeemOpenIDCode(hash: [UInt8]) async throws(IdentityError) -> OpenIDCodeRedemption {
        let buffer = ByteBuffer(bytes: hash)
        typealias Row = (String, UUID, String, String?, String?, [String], Date, [String], Bool)
        let first = try await run { () async throws -> Row? in
            let rows = try await client.query(
                """
                UPDATE oidc_codes SET redeemed_at = now() WHERE code_hash = \(buffer) AND redeemed_at IS NULL
                RETURNING client_id, session_id, redirect_uri, code_challenge, nonce, scopes, auth_time, amr, expires_at <= now()
                """, logger: logger)
            for try await row in rows.decode(Row.self) { return row }
            return nil
        }
        if let row = first {
            return .redeemed(
                OpenIDCode(
                    clientID: row.0, sessionID: row.1, redirectURI: row.2, codeChallenge: row.3, nonce: row.4, scopes: row.5, authTime: row.6,
                    amr: row.7, expired: row.8))
        }
        let replayed = try await run { () async throws -> UUID?? in
            let rows = try await client.query(
                "UPDATE oidc_codes SET replayed_at = now() WHERE code_hash = \(buffer) RETURNING grant_id", logger: logger)
            for try await grant in rows.decode(UUID?.self) { return .some(grant) }
            return .none
        }
        guard let replayed else { return .unknown }
        if let grant = replayed { try await revokeOpenIDGrant(grant, reason: "authorization code replayed") }
        return .replayed(revokedGrant: replayed)
    }

    /// The grant a redeemed code makes; nil (and nothing granted) when the code was replayed in
    /// the meantime or the session ended.
    func createOpenIDGrant(
        id: UUID, codeHash: [UInt8], clientID: String, sessionID: UUID, scopes: [String], authTime: Date, amr: [String],
        refreshHash: [UInt8]?, refreshLifetime: TimeInterval
    ) async throws(IdentityError) -> OpenIDGrant? {
        try await run {
            let rows = try await client.query(
                """
                WITH code AS (
                    UPDATE oidc_codes SET grant_id = \(id) WHERE code_hash = \(ByteBuffer(bytes: codeHash)) AND replayed_at IS NULL
                    RETURNING session_id
                )
                INSERT INTO oidc_grants (id, client_id, session_id, user_id, scopes, auth_time, amr, refresh_hash, refresh_expires_at)
                SELECT \(id), \(clientID), s.id, s.user_id, \(scopes), \(authTime), \(amr), \(refreshHash.map { ByteBuffer(bytes: $0) }),
                    LEAST(s.expires_at, now() + make_interval(secs => \(refreshLifetime)))
                FROM code JOIN identity_sessions s ON s.id = code.session_id JOIN identity_users u ON u.id = s.user_id
                WHERE s.id = \(sessionID) AND s.revoked_at IS NULL AND s.expires_at > now() AND u.status = 'active'
                RETURNING (SELECT login FROM identity_users WHERE id = user_id)
                """, logger: logger)
            for try await login in rows.decode(String.self) {
                return OpenIDGrant(
                    id: id, clientID: clientID, sessionID: sessionID, login: login, scopes: scopes, authTime: authTime, amr: amr)
            }
            return nil
        }
    }

    /// Exchanges a refresh token for its successor (rotation); a token already exchanged revokes
    /// the grant, as does anything that ended it.
    func refreshOpenIDGrant(hash: [UInt8], successor: [UInt8], clientID: String) async throws(IdentityError) -> OpenIDRefresh {
        let current = ByteBuffer(bytes: hash)
        typealias Row = (UUID, String, UUID, String, [String], Date, [String], Bool, Bool)
        let found = try await run { () async throws -> Row? in
            let rows = try await client.query(
                """
                SELECT g.id, g.client_id, g.session_id, u.login, g.scopes, g.auth_time, g.amr,
                    g.revoked_at IS NULL AND s.revoked_at IS NULL AND s.expires_at > now() AND u.status = 'active',
                    g.refresh_expires_at > now()
                FROM oidc_grants g JOIN identity_sessions s ON s.id = g.session_id JOIN identity_users u ON u.id = g.user_id
                WHERE g.refresh_hash = \(current)
                """, logger: logger)
            for try await row in rows.decode(Row.self) { return row }
            return nil
        }
        guard let row = found else {
            let reused = try await run { () async throws -> UUID? in
                let rows = try await client.query(
                    "SELECT id FROM oidc_grants WHERE previous_hash = \(current) AND revoked_at IS NULL", logger: logger)
                for try await id in rows.decode(UUID.self) { return id }
                return nil
            }
            guard let reused else { return .unknown }
            try await revokeOpenIDGrant(reused, reason: "refresh token reused")
            return .reused(reused)
        }
        guard row.1 == clientID else { return .otherClient }
        guard row.7 else { return .ended("the grant, its session or its account has ended") }
        guard row.8 else { return .ended("the refresh token has expired") }
        let rotated = try await run { () async throws -> Bool in
            let rows = try await client.query(
                """
                UPDATE oidc_grants SET previous_hash = refresh_hash, refresh_hash = \(ByteBuffer(bytes: successor))
                WHERE id = \(row.0) AND refresh_hash = \(current) RETURNING id
                """, logger: logger)
            for try await _ in rows.decode(UUID.self) { return true }
            return false
        }
        // Lost a race with another exchange of the same token: that is a reuse.
        guard rotated else {
            try await revokeOpenIDGrant(row.0, reason: "refresh token reused")
            return .reused(row.0)
        }
        return .rotated(OpenIDGrant(id: row.0, clientID: row.1, sessionID: row.2, login: row.3, scopes: row.4, authTime: row.5, amr: row.6))
    }

    /// The grant if it still stands: not revoked, its session open, its person active.
    func standingOpenIDGrant(_ id: UUID) async throws(IdentityError) -> OpenIDGrant? {
        try await run {
            let rows = try await client.query(
                """
                SELECT g.id, g.client_id, g.session_id, u.login, g.scopes, g.auth_time, g.amr
                FROM oidc_grants g JOIN identity_sessions s ON s.id = g.session_id JOIN identity_users u ON u.id = g.user_id
                WHERE g.id = \(id) AND g.revoked_at IS NULL AND s.revoked_at IS NULL AND s.expires_at > now() AND u.status = 'active'
                """, logger: logger)
            for try await row in rows.decode((UUID, String, UUID, String, [String], Date, [String]).self) {
                return OpenIDGrant(id: row.0, clientID: row.1, sessionID: row.2, login: row.3, scopes: row.4, authTime: row.5, amr: row.6)
            }
            return nil
        }
    }

    func revokeOpenIDGrant(_ id: UUID, reason: String) async throws(IdentityError) {
        try await run {
            try await client.query(
                "UPDATE oidc_grants SET revoked_at = now(), revoke_reason = \(reason) WHERE id = \(id) AND revoked_at IS NULL",
                logger: logger)
        }
    }

    /// Revokes the grant a refresh token belongs to (RFC 7009), if it is this client's; whether one was.
    func revokeOpenIDGrant(refreshHash: [UInt8], clientID: String) async throws(IdentityError) -> UUID? {
        try await run {
            let rows = try await client.query(
                """
                UPDATE oidc_grants SET revoked_at = now(), revoke_reason = 'revoked by the client'
                WHERE (refresh_hash = \(ByteBuffer(bytes: refreshHash)) OR previous_hash = \(ByteBuffer(bytes: refreshHash)))
                    AND client_id = \(clientID) AND revoked_at IS NULL
                RETURNING id
                """, logger: logger)
            for try await id in rows.decode(UUID.self) { return id }
            return nil
        }
    }
}
