import Foundation
import PostgresNIO

extension IdentityStore {
    /// The user an identity of a provider is linked to, if any; notes the sign-in.
    func linkedUser(issuer: String, subject: String) async throws(IdentityError) -> User? {
        let login = try await run { () async throws -> String? in
            let rows = try await client.query(
                """
                UPDATE identity_federated_identities f SET last_sign_in_at = now()
                FROM identity_users u WHERE u.id = f.user_id AND f.issuer = \(issuer) AND f.subject = \(subject)
                RETURNING u.login
                """, logger: logger)
            for try await login in rows.decode(String.self) { return login }
            return nil
        }
        guard let login else { return nil }
        return try await user(login: login)
    }

    /// Links an identity to a user; an identity already linked keeps its link (conflict).
    func link(issuer: String, subject: String, provider: String, userID: UUID) async throws(IdentityError) {
        let inserted = try await run { () async throws -> Bool in
            let rows = try await client.query(
                """
                INSERT INTO identity_federated_identities (issuer, subject, provider, user_id, last_sign_in_at)
                VALUES (\(issuer), \(subject), \(provider), \(userID), now()) ON CONFLICT DO NOTHING RETURNING user_id
                """, logger: logger)
            for try await _ in rows.decode(UUID.self) { return true }
            return false
        }
        guard inserted else { throw .conflict("this identity of \(provider) is already linked") }
    }

    /// Removes a link of `userID`; whether there was one.
    func unlink(issuer: String, subject: String, userID: UUID) async throws(IdentityError) -> Bool {
        try await run {
            let rows = try await client.query(
                """
                DELETE FROM identity_federated_identities WHERE issuer = \(issuer) AND subject = \(subject) AND user_id = \(userID)
                RETURNING provider
                """, logger: logger)
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
    }

    /// Per provider: how many identities are linked, and how many identity sessions they have open.
    public func federationCounts() async throws(IdentityError) -> [String: (linked: Int, sessions: Int)] {
        try await run {
            let rows = try await client.query(
                """
                SELECT provider, count(*)::int8 AS linked,
                    (SELECT count(*) FROM identity_federated_sessions f JOIN identity_sessions s ON s.id = f.session_id
                     WHERE f.provider = i.provider AND s.revoked_at IS NULL AND s.expires_at > now())::int8
                FROM identity_federated_identities i GROUP BY provider
                """, logger: logger)
            var counts: [String: (linked: Int, sessions: Int)] = [:]
            for try await (provider, linked, sessions) in rows.decode((String, Int, Int).self) { counts[provider] = (linked, sessions) }
            return counts
        }
    }

    /// The user whose e-mail address is `email` (case-insensitive), if any.
    func user(email: String) async throws(IdentityError) -> User? {
        try await run {
            let rows = try await client.query(
                "SELECT \(unescaped: Self.userColumns) FROM identity_users u WHERE lower(u.email) = lower(\(email))", logger: logger)
            for try await row in rows.decode(UserRow.self) { return Self.user(row) }
            return nil
        }
    }

    /// The identities linked to a user, for the console and the admin API.
    public func linkedIdentities(userID: UUID) async throws(IdentityError) -> [LinkedIdentity] {
        try await run {
            let rows = try await client.query(
                """
                SELECT provider, issuer, subject, linked_at, last_sign_in_at FROM identity_federated_identities
                WHERE user_id = \(userID) ORDER BY provider, subject
                """, logger: logger)
            var identities: [LinkedIdentity] = []
            for try await (provider, issuer, subject, linkedAt, lastSignIn) in rows.decode((String, String, String, Date, Date?).self) {
                identities.append(LinkedIdentity(provider: provider, issuer: issuer, subject: subject, linkedAt: linkedAt, lastSignInAt: lastSignIn))
            }
            return identities
        }
    }
}

/// An identity of a provider linked to a Portcullis user.
public struct LinkedIdentity: Sendable, Equatable, Encodable {
    public let provider: String
    public let issuer: String
    public let subject: String
    public let linkedAt: Date
    public let lastSignInAt: Date?

    enum CodingKeys: String, CodingKey {
        case provider, issuer, subject
        case linkedAt = "linked_at"
        case lastSignInAt = "last_sign_in_at"
    }
}

/// An identity session opened with a provider, as the re-validation sees it.
public struct FederatedSession: Sendable {
    public let sessionID: UUID
    public let provider: String
    public let issuer: String
    public let subject: String
    /// The provider's refresh token, sealed; nil when the provider gave none.
    let refreshSealed: String?
    /// The last time the provider confirmed the person.
    public let checkedAt: Date
}

extension IdentityStore {
    func recordFederatedSession(
        sessionID: UUID, provider: String, issuer: String, subject: String, refreshSealed: String?, nextCheck: TimeInterval
    ) async throws(IdentityError) {
        try await run {
            try await client.query(
                """
                INSERT INTO identity_federated_sessions (session_id, provider, issuer, subject, refresh_sealed, next_check_at)
                VALUES (\(sessionID), \(provider), \(issuer), \(subject), \(refreshSealed), now() + make_interval(secs => \(nextCheck)))
                """, logger: logger)
        }
    }

    /// Claims up to `limit` open sessions whose check is due (moving their next check `claim`
    /// seconds ahead, so no other replica takes them meanwhile) and returns them.
    func claimDueFederatedSessions(limit: Int, claim: TimeInterval) async throws(IdentityError) -> [FederatedSession] {
        try await run {
            let rows = try await client.query(
                """
                UPDATE identity_federated_sessions f SET next_check_at = now() + make_interval(secs => \(claim))
                WHERE f.session_id IN (
                    SELECT d.session_id FROM identity_federated_sessions d JOIN identity_sessions s ON s.id = d.session_id
                    WHERE d.next_check_at <= now() AND s.revoked_at IS NULL AND s.expires_at > now()
                    ORDER BY d.next_check_at LIMIT \(limit) FOR UPDATE OF d SKIP LOCKED)
                RETURNING f.session_id, f.provider, f.issuer, f.subject, f.refresh_sealed, f.checked_at
                """, logger: logger)
            var due: [FederatedSession] = []
            for try await (id, provider, issuer, subject, sealed, checked) in rows.decode((UUID, String, String, String, String?, Date).self) {
                due.append(
                    FederatedSession(sessionID: id, provider: provider, issuer: issuer, subject: subject, refreshSealed: sealed, checkedAt: checked))
            }
            return due
        }
    }

    /// The provider confirmed the person: the next check in `nextCheck` seconds.
    func federatedSessionConfirmed(_ id: UUID, refreshSealed: String?, nextCheck: TimeInterval) async throws(IdentityError) {
        try await run {
            try await client.query(
                """
                UPDATE identity_federated_sessions
                SET refresh_sealed = COALESCE(\(refreshSealed), refresh_sealed), checked_at = now(),
                    next_check_at = now() + make_interval(secs => \(nextCheck))
                WHERE session_id = \(id)
                """, logger: logger)
        }
    }

    /// The open sessions of one identity of a provider (back-channel logout ends them).
    func federatedSessions(issuer: String, subject: String) async throws(IdentityError) -> [UUID] {
        try await run {
            let rows = try await client.query(
                """
                SELECT f.session_id FROM identity_federated_sessions f JOIN identity_sessions s ON s.id = f.session_id
                WHERE f.issuer = \(issuer) AND f.subject = \(subject) AND s.revoked_at IS NULL
                """, logger: logger)
            var ids: [UUID] = []
            for try await id in rows.decode(UUID.self) { ids.append(id) }
            return ids
        }
    }
}
