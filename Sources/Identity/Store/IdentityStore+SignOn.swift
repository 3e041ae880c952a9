import Foundation
import PostgresNIO

/// What presenting a sign-on code led to. Every outcome but `unknown` used the code up.
enum SignOnRedemption: Sendable {
    case redeemed(Session)
    /// Never issued, already redeemed, or forged.
    case unknown
    case expired
    /// Issued for another host: refused, and spent so it cannot be tried there either.
    case otherHost(String)
    /// Its session ended (sign-out, revocation, a disabled account) after the code was issued.
    case sessionEnded
}

extension IdentityStore {
    /// Stores a code for an open session of an active user; false when the session is no longer
    /// open, so no code is issued for it.
    func createSignOnCode(hash: [UInt8], sessionID: UUID, host: String, lifetime: TimeInterval) async throws(IdentityError) -> Bool {
        try await run {
            let rows = try await client.query(
                """
                INSERT INTO identity_sign_on_codes (code_hash, session_id, host, expires_at)
                SELECT \(ByteBuffer(bytes: hash)), s.id, \(host), LEAST(s.expires_at, now() + make_interval(secs => \(lifetime)))
                FROM identity_sessions s JOIN identity_users u ON u.id = s.user_id
                WHERE s.id = \(sessionID) AND s.revoked_at IS NULL AND s.expires_at > now() AND u.status = 'active'
                RETURNING session_id
                """, logger: logger)
            var stored = false
            for try await _ in rows.decode(UUID.self) { stored = true }
            return stored
        }
    }

    /// Uses a code up (deleted in the same statement that reads it, so two presentations cannot
    /// both succeed) and says whether it opens its session on `host`.
    func redeemSignOnCode(hash: [UInt8], host: String) async throws(IdentityError) -> SignOnRedemption {
        let spent = try await run { () async throws -> (UUID, String, Bool)? in
            let rows = try await client.query(
                """
                DELETE FROM identity_sign_on_codes WHERE code_hash = \(ByteBuffer(bytes: hash))
                RETURNING session_id, host, expires_at > now()
                """, logger: logger)
            for try await row in rows.decode((UUID, String, Bool).self) { return row }
            return nil
        }
        guard let (sessionID, boundHost, unexpired) = spent else { return .unknown }
        guard boundHost == host else { return .otherHost(boundHost) }
        guard unexpired else { return .expired }
        guard let session = try await session(id: sessionID), session.revokedAt == nil, session.expiresAt > Date(),
            let user = try await user(login: session.login), user.status == .active
        else { return .sessionEnded }
        try await run {
            try await client.query("UPDATE identity_sessions SET last_seen_at = now() WHERE id = \(sessionID)", logger: logger)
        }
        return .redeemed(session)
    }

    /// Marks sessions as used now: the gateways report the sessions their requests carried.
    public func touchSessions(_ ids: [UUID]) async throws(IdentityError) {
        guard !ids.isEmpty else { return }
        try await run {
            try await client.query(
                """
                UPDATE identity_sessions SET last_seen_at = now()
                WHERE id = ANY(\(ids)) AND revoked_at IS NULL AND last_seen_at < now()
                """, logger: logger)
        }
    }
}
