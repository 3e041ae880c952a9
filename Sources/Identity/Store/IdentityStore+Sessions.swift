import Foundation
import PostgresNIO

/// What presenting a refresh token led to.
enum RefreshOutcome: Sendable {
    /// Rotated: the session, its user, and the successor token was stored.
    case rotated(Session, User)
    /// Unknown, expired, or its session or user is no longer valid.
    case invalid
    /// The token had already been used: someone else holds a copy. The session was revoked.
    case reused(sessionID: UUID)
}

extension IdentityStore {
    static let sessionColumns = """
        s.id, s.user_id, u.login, s.auth_methods, s.mfa_at, s.client_address, s.user_agent, s.created_at, s.last_seen_at,
        s.expires_at, s.revoked_at
        """

    typealias SessionRow = (UUID, UUID, String, [String], Date?, String?, String, Date, Date, Date, Date?)

    static func session(_ row: SessionRow) -> Session {
        Session(
            id: row.0, userID: row.1, login: row.2, authMethods: row.3, mfaAt: row.4, clientAddress: row.5, userAgent: row.6,
            createdAt: row.7, lastSeenAt: row.8, expiresAt: row.9, revokedAt: row.10)
    }

    /// Opens a session and stores its first refresh token.
    func createSession(
        userID: UUID, authMethods: [String], mfaAt: Date?, clientAddress: String, userAgent: String,
        lifetime: TimeInterval, refreshHash: [UInt8], refreshLifetime: TimeInterval
    ) async throws(IdentityError) -> Session {
        let logger = self.logger
        let id = try await transaction { connection in
            let rows = try await connection.query(
                """
                INSERT INTO identity_sessions (user_id, auth_methods, mfa_at, client_address, user_agent, expires_at)
                VALUES (\(userID), \(authMethods), \(mfaAt), \(clientAddress), \(userAgent), now() + make_interval(secs => \(lifetime)))
                RETURNING id
                """, logger: logger)
            for try await id in rows.decode(UUID.self) {
                try await connection.query(
                    """
                    INSERT INTO identity_refresh_tokens (token_hash, session_id, expires_at)
                    SELECT \(ByteBuffer(bytes: refreshHash)), id, LEAST(expires_at, now() + make_interval(secs => \(refreshLifetime)))
                    FROM identity_sessions WHERE id = \(id)
                    """, logger: logger)
                return id
            }
            throw IdentityError.unavailable("session insert returned nothing")
        }
        guard let session = try await session(id: id) else { throw .unavailable("session vanished after insert") }
        return session
    }

    public func session(id: UUID) async throws(IdentityError) -> Session? {
        try await run {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Self.sessionColumns) FROM identity_sessions s JOIN identity_users u ON u.id = s.user_id
                WHERE s.id = \(id)
                """, logger: logger)
            for try await row in rows.decode(SessionRow.self) { return Self.session(row) }
            return nil
        }
    }

    /// Open sessions (not revoked, not expired), newest first, optionally of one user.
    public func listSessions(login: String?, after: UUID?, limit: Int) async throws(IdentityError) -> Page<Session> {
        try await run {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Self.sessionColumns) FROM identity_sessions s JOIN identity_users u ON u.id = s.user_id
                WHERE s.revoked_at IS NULL AND s.expires_at > now() AND (\(login)::text IS NULL OR u.login = \(login))
                  AND (\(after)::uuid IS NULL OR s.id > \(after))
                ORDER BY s.id LIMIT \(limit + 1)
                """, logger: logger)
            var sessions: [Session] = []
            for try await row in rows.decode(SessionRow.self) { sessions.append(Self.session(row)) }
            return Self.page(sessions, limit: limit, cursor: { $0.id.uuidString.lowercased() })
        }
    }

    /// Revokes one session everywhere: its refresh tokens stop working here, and every gateway
    /// rejects its access tokens and cookies once the NOTIFY arrives.
    public func revokeSession(id: UUID, reason: String) async throws(IdentityError) -> Session {
        let logger = self.logger
        try await transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE identity_sessions SET revoked_at = COALESCE(revoked_at, now()), revoke_reason = COALESCE(revoke_reason, \(reason))
                WHERE id = \(id) RETURNING revoked_at, expires_at
                """, logger: logger)
            var found = false
            for try await (revokedAt, expiresAt) in rows.decode((Date, Date).self) {
                found = true
                try await Self.publishRevocation(
                    .init(
                        kind: .session, value: id.uuidString.lowercased(), revokedAt: revokedAt,
                        expiresAt: expiresAt), on: connection, logger: logger)
            }
            guard found else { throw IdentityError.notFound("session \(id)") }
        }
        guard let session = try await session(id: id) else { throw .notFound("session \(id)") }
        return session
    }

    /// Uses a refresh token once: marks it used and stores its successor, all under a row lock
    /// so two concurrent uses of one token cannot both rotate.
    func rotateRefreshToken(hash: [UInt8], successorHash: [UInt8], refreshLifetime: TimeInterval) async throws(IdentityError) -> RefreshOutcome {
        let logger = self.logger
        enum Step: Sendable {
            case rotated(UUID)
            case invalid
            case reused(UUID)
        }
        let step: Step = try await transaction { connection in
            let rows = try await connection.query(
                """
                SELECT t.session_id, t.used_at IS NOT NULL, t.expires_at > now(),
                       s.revoked_at IS NULL AND s.expires_at > now() AND u.status = 'active'
                FROM identity_refresh_tokens t
                JOIN identity_sessions s ON s.id = t.session_id
                JOIN identity_users u ON u.id = s.user_id
                WHERE t.token_hash = \(ByteBuffer(bytes: hash))
                FOR UPDATE OF t
                """, logger: logger)
            var found: (UUID, Bool, Bool, Bool)?
            for try await row in rows.decode((UUID, Bool, Bool, Bool).self) { found = row }
            guard let (sessionID, used, unexpired, sessionValid) = found else { return .invalid }
            if used {
                try await Self.revokeSession(sessionID, reason: "refresh token reused", on: connection, logger: logger)
                return .reused(sessionID)
            }
            guard unexpired, sessionValid else { return .invalid }
            try await connection.query(
                """
                UPDATE identity_refresh_tokens SET used_at = now() WHERE token_hash = \(ByteBuffer(bytes: hash))
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO identity_refresh_tokens (token_hash, session_id, expires_at)
                SELECT \(ByteBuffer(bytes: successorHash)), id, LEAST(expires_at, now() + make_interval(secs => \(refreshLifetime)))
                FROM identity_sessions WHERE id = \(sessionID)
                """, logger: logger)
            try await connection.query("UPDATE identity_sessions SET last_seen_at = now() WHERE id = \(sessionID)", logger: logger)
            return .rotated(sessionID)
        }
        switch step {
        case .invalid:
            return .invalid
        case let .reused(sessionID):
            return .reused(sessionID: sessionID)
        case let .rotated(sessionID):
            guard let session = try await session(id: sessionID), let user = try await user(login: session.login) else {
                return .invalid
            }
            return .rotated(session, user)
        }
    }

    /// Revokes a session by refresh token (logout, RFC 7009 revocation of a refresh token).
    func revokeSession(byRefreshHash hash: [UInt8], reason: String) async throws(IdentityError) -> UUID? {
        let sessionID = try await run { () async throws -> UUID? in
            let rows = try await client.query(
                "SELECT session_id FROM identity_refresh_tokens WHERE token_hash = \(ByteBuffer(bytes: hash))", logger: logger)
            for try await id in rows.decode(UUID.self) { return id }
            return nil
        }
        guard let sessionID else { return nil }
        _ = try await revokeSession(id: sessionID, reason: reason)
        return sessionID
    }

    // MARK: Revocations

    static func publishRevocation(_ revocation: Revocation, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO identity_revocations (kind, value, revoked_at, expires_at)
            VALUES (\(revocation.kind.rawValue), \(revocation.value), \(revocation.revokedAt), \(revocation.expiresAt))
            ON CONFLICT (kind, value) DO UPDATE
                SET revoked_at = GREATEST(identity_revocations.revoked_at, EXCLUDED.revoked_at),
                    expires_at = GREATEST(identity_revocations.expires_at, EXCLUDED.expires_at)
            """, logger: logger)
        try await notify(.revoked(revocation), on: connection, logger: logger)
    }

    private static func revokeSession(_ id: UUID, reason: String, on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query(
            """
            UPDATE identity_sessions SET revoked_at = COALESCE(revoked_at, now()), revoke_reason = COALESCE(revoke_reason, \(reason))
            WHERE id = \(id) RETURNING revoked_at, expires_at
            """, logger: logger)
        for try await (revokedAt, expiresAt) in rows.decode((Date, Date).self) {
            try await publishRevocation(
                .init(
                    kind: .session, value: id.uuidString.lowercased(), revokedAt: revokedAt,
                    expiresAt: expiresAt), on: connection, logger: logger)
        }
    }

    /// Every token of `subject` issued up to now becomes invalid for `lifetime` (the longest any
    /// such token can live); tokens issued later are unaffected.
    static func revokeSubject(_ subject: String, lifetime: TimeInterval, on connection: PostgresConnection, logger: Logger) async throws {
        let now = Date()
        try await publishRevocation(
            .init(kind: .subject, value: subject, revokedAt: now, expiresAt: now + lifetime),
            on: connection, logger: logger)
    }

    static func revokeSessions(userID: UUID, reason: String, lifetime: TimeInterval, on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query(
            """
            SELECT id FROM identity_sessions WHERE user_id = \(userID) AND revoked_at IS NULL AND expires_at > now()
            """, logger: logger)
        var open: [UUID] = []
        for try await id in rows.decode(UUID.self) { open.append(id) }
        for id in open { try await revokeSession(id, reason: reason, on: connection, logger: logger) }
    }

    /// One access token, by `jti`, until it would have expired.
    public func revokeToken(id: String, expiresAt: Date) async throws(IdentityError) {
        let logger = self.logger
        try await transaction { connection in
            try await Self.publishRevocation(
                .init(kind: .token, value: id, revokedAt: Date(), expiresAt: expiresAt),
                on: connection, logger: logger)
        }
    }

    /// Every revocation still in force: what a feed loads on (re)connect.
    public func activeRevocations() async throws(IdentityError) -> [Revocation] {
        try await run {
            let rows = try await client.query(
                """
                SELECT kind, value, revoked_at, expires_at FROM identity_revocations WHERE expires_at > now()
                UNION ALL
                SELECT 'certificate', serial, revoked_at, expires_at FROM identity_revoked_certificates WHERE expires_at > now()
                """, logger: logger)
            var revocations: [Revocation] = []
            for try await (kind, value, revokedAt, expiresAt) in rows.decode((String, String, Date, Date).self) {
                guard let kind = Revocation.Kind(rawValue: kind) else { continue }
                revocations.append(Revocation(kind: kind, value: value, revokedAt: revokedAt, expiresAt: expiresAt))
            }
            return revocations
        }
    }
}
