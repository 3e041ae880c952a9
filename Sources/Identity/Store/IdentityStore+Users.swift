import AccessModel
import Foundation
import PostgresNIO

/// The credential columns of a user, read only by the login path.
struct StoredCredentials: Sendable {
    var userID: UUID
    var login: String
    var status: AccountStatus
    var passwordHash: String?
    var sealedTOTP: String?
    var totpConfirmed: Bool
    var totpLastStep: Int64?
    /// The password was set by an administrator (or generated) and works for one sign-in only.
    var passwordChangeRequired: Bool
}

extension IdentityStore {
    static let userColumns = """
        u.id, u.login, u.email, u.display_name, u.status, u.totp_confirmed, u.created_at, u.updated_at,
        COALESCE((SELECT array_agg(r.role ORDER BY r.role) FROM identity_user_roles r WHERE r.user_id = u.id), '{}'),
        COALESCE((SELECT array_agg(g.group_name ORDER BY g.group_name) FROM identity_user_groups g WHERE g.user_id = u.id), '{}')
        """

    typealias UserRow = (UUID, String, String, String, String, Bool, Date, Date, [String], [String])

    static func user(_ row: UserRow) -> User {
        User(
            id: row.0, login: row.1, email: row.2, displayName: row.3, status: AccountStatus(rawValue: row.4) ?? .disabled,
            mfaEnrolled: row.5, roles: row.8, groups: row.9, createdAt: row.6, updatedAt: row.7)
    }

    public func createUser(
        login: String, email: String, displayName: String, passwordHash: String?, passwordChangeRequired: Bool = false
    ) async throws(IdentityError) -> User {
        try await run {
            let rows = try await client.query(
                """
                INSERT INTO identity_users (login, email, display_name, password_hash, password_change_required)
                VALUES (\(login), \(email), \(displayName), \(passwordHash), \(passwordChangeRequired))
                RETURNING id
                """, logger: logger)
            for try await _ in rows.decode(UUID.self) {}
        }
        guard let user = try await user(login: login) else { throw .unavailable("user vanished after insert") }
        return user
    }

    public func user(login: String) async throws(IdentityError) -> User? {
        try await run {
            let rows = try await client.query(
                "SELECT \(unescaped: Self.userColumns) FROM identity_users u WHERE u.login = \(login)", logger: logger)
            for try await row in rows.decode(UserRow.self) { return Self.user(row) }
            return nil
        }
    }

    public func requireUser(login: String) async throws(IdentityError) -> User {
        guard let user = try await user(login: login) else { throw .notFound("user '\(login)'") }
        return user
    }

    /// Users ordered by login, after the cursor `after` (a login).
    public func listUsers(after: String?, limit: Int) async throws(IdentityError) -> Page<User> {
        try await run {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Self.userColumns) FROM identity_users u
                WHERE \(after)::text IS NULL OR u.login > \(after)
                ORDER BY u.login LIMIT \(limit + 1)
                """, logger: logger)
            var users: [User] = []
            for try await row in rows.decode(UserRow.self) { users.append(Self.user(row)) }
            return Self.page(users, limit: limit, cursor: \.login)
        }
    }

    static func page<Item>(_ items: [Item], limit: Int, cursor: (Item) -> String) -> Page<Item> {
        guard items.count > limit else { return Page(items: items, next: nil) }
        let shown = Array(items.prefix(limit))
        return Page(items: shown, next: shown.last.map(cursor))
    }

    /// Changes e-mail and/or display name; returns the user before and after.
    public func updateUser(login: String, email: String?, displayName: String?) async throws(IdentityError) -> (before: User, after: User) {
        let before = try await requireUser(login: login)
        try await run {
            try await client.query(
                """
                UPDATE identity_users SET email = COALESCE(\(email), email),
                    display_name = COALESCE(\(displayName), display_name), updated_at = now()
                WHERE login = \(login)
                """, logger: logger)
        }
        return (before, try await requireUser(login: login))
    }

    /// Sets the status. Leaving `active` revokes every token of the login and every open
    /// session in the same transaction, and tells every gateway.
    public func setStatus(
        login: String, _ status: AccountStatus, revocationLifetime: TimeInterval
    ) async throws(IdentityError) -> (before: User, after: User) {
        let before = try await requireUser(login: login)
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                "UPDATE identity_users SET status = \(status.rawValue), updated_at = now() WHERE login = \(login)", logger: logger)
            if status != .active {
                try await Self.revokeSubject(login, lifetime: revocationLifetime, on: connection, logger: logger)
                try await Self.revokeSessions(
                    userID: before.id, reason: "account \(status.rawValue)", lifetime: revocationLifetime,
                    on: connection, logger: logger)
            }
            try await Self.notify(.hierarchyChanged, on: connection, logger: logger)
        }
        return (before, try await requireUser(login: login))
    }

    /// Every user's status, roles and groups by login: what the gateways decide sessions and
    /// access tokens on (`RevocationFeed.Snapshot.accounts`).
    public func accountStates() async throws(IdentityError) -> [String: AccountState] {
        try await run {
            let rows = try await client.query("SELECT \(unescaped: Self.userColumns) FROM identity_users u", logger: logger)
            var accounts: [String: AccountState] = [:]
            for try await row in rows.decode(UserRow.self) {
                let user = Self.user(row)
                accounts[user.login] = AccountState(isActive: user.status == .active, roles: user.roles, groups: user.groups)
            }
            return accounts
        }
    }

    /// A new password, and the end of everything the old one opened: every session (with its
    /// refresh-token chain) and every access token issued until now, on every gateway.
    /// `oneTime`: a password an administrator chose or generated, which the next sign-in must
    /// replace.
    public func replacePassword(login: String, hash: String, oneTime: Bool, revocationLifetime: TimeInterval) async throws(IdentityError) {
        let user = try await requireUser(login: login)
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                """
                UPDATE identity_users SET password_hash = \(hash), password_change_required = \(oneTime), updated_at = now()
                WHERE id = \(user.id)
                """, logger: logger)
            try await Self.revokeSubject(user.login, lifetime: revocationLifetime, on: connection, logger: logger)
            try await Self.revokeSessions(
                userID: user.id, reason: "password changed", lifetime: revocationLifetime, on: connection, logger: logger)
        }
    }

    /// The person's own new password, chosen at the sign-in that a one-time password forced:
    /// every session opened before ends (each access token names its session, so those end too).
    func replaceOneTimePassword(userID: UUID, hash: String, revocationLifetime: TimeInterval) async throws(IdentityError) {
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                """
                UPDATE identity_users SET password_hash = \(hash), password_change_required = false, updated_at = now()
                WHERE id = \(userID)
                """, logger: logger)
            try await Self.revokeSessions(
                userID: userID, reason: "password changed", lifetime: revocationLifetime, on: connection, logger: logger)
        }
    }

    /// Stores a new hash of the same password (a rehash at sign-in): nothing is ended. A changed
    /// password goes through ``replacePassword(login:hash:oneTime:revocationLifetime:)``.
    public func setPasswordHash(login: String, _ hash: String) async throws(IdentityError) {
        let updated = try await run {
            let rows = try await client.query(
                "UPDATE identity_users SET password_hash = \(hash), updated_at = now() WHERE login = \(login) RETURNING id", logger: logger)
            var count = 0
            for try await _ in rows.decode(UUID.self) { count += 1 }
            return count
        }
        guard updated == 1 else { throw .notFound("user '\(login)'") }
    }

    func credentials(login: String) async throws(IdentityError) -> StoredCredentials? {
        try await run {
            let rows = try await client.query(
                """
                SELECT id, login, status, password_hash, totp_sealed, totp_confirmed, totp_last_step, password_change_required
                FROM identity_users WHERE login = \(login)
                """, logger: logger)
            for try await row in rows.decode((UUID, String, String, String?, String?, Bool, Int64?, Bool).self) {
                return StoredCredentials(
                    userID: row.0, login: row.1, status: AccountStatus(rawValue: row.2) ?? .disabled,
                    passwordHash: row.3, sealedTOTP: row.4, totpConfirmed: row.5, totpLastStep: row.6,
                    passwordChangeRequired: row.7)
            }
            return nil
        }
    }

    func credentials(userID: UUID) async throws(IdentityError) -> StoredCredentials? {
        let login = try await run { () async throws -> String? in
            let rows = try await client.query("SELECT login FROM identity_users WHERE id = \(userID)", logger: logger)
            for try await login in rows.decode(String.self) { return login }
            return nil
        }
        guard let login else { return nil }
        return try await credentials(login: login)
    }

    // MARK: MFA

    /// Stores a new, unconfirmed TOTP secret (replacing an unconfirmed one; a confirmed factor
    /// must be reset by an administrator first).
    func beginTOTPEnrolment(userID: UUID, sealed: String) async throws(IdentityError) {
        let changed = try await run {
            let rows = try await client.query(
                """
                UPDATE identity_users SET totp_sealed = \(sealed), totp_confirmed = false, totp_last_step = NULL, updated_at = now()
                WHERE id = \(userID) AND NOT totp_confirmed RETURNING id
                """, logger: logger)
            var count = 0
            for try await _ in rows.decode(UUID.self) { count += 1 }
            return count
        }
        guard changed == 1 else { throw .conflict("a second factor is already enrolled; an administrator must reset it first") }
    }

    /// Confirms enrolment with the step of the first valid code and stores recovery code hashes.
    func confirmTOTP(userID: UUID, step: Int64, recoveryHashes: [String]) async throws(IdentityError) {
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                """
                UPDATE identity_users SET totp_confirmed = true, totp_last_step = \(step), updated_at = now() WHERE id = \(userID)
                """, logger: logger)
            try await connection.query("DELETE FROM identity_recovery_codes WHERE user_id = \(userID)", logger: logger)
            try await connection.query(
                """
                INSERT INTO identity_recovery_codes (user_id, code_hash) SELECT \(userID), unnest(\(recoveryHashes)::text[])
                """, logger: logger)
        }
    }

    /// Records `step` as used, only if it is newer than the last one: two concurrent logins
    /// with the same code cannot both succeed.
    func claimTOTPStep(userID: UUID, step: Int64) async throws(IdentityError) -> Bool {
        try await run {
            let rows = try await client.query(
                """
                UPDATE identity_users SET totp_last_step = \(step)
                WHERE id = \(userID) AND (totp_last_step IS NULL OR totp_last_step < \(step)) RETURNING id
                """, logger: logger)
            var claimed = false
            for try await _ in rows.decode(UUID.self) { claimed = true }
            return claimed
        }
    }

    func recoveryCodeHashes(userID: UUID) async throws(IdentityError) -> [String] {
        try await run {
            let rows = try await client.query("SELECT code_hash FROM identity_recovery_codes WHERE user_id = \(userID)", logger: logger)
            var hashes: [String] = []
            for try await hash in rows.decode(String.self) { hashes.append(hash) }
            return hashes
        }
    }

    /// Deletes a recovery code; false if another request used it first.
    func consumeRecoveryCode(userID: UUID, hash: String) async throws(IdentityError) -> Bool {
        try await run {
            let rows = try await client.query(
                """
                DELETE FROM identity_recovery_codes WHERE user_id = \(userID) AND code_hash = \(hash) RETURNING user_id
                """, logger: logger)
            var consumed = false
            for try await _ in rows.decode(UUID.self) { consumed = true }
            return consumed
        }
    }

    /// Removes the second factor and its recovery codes (lost device), and ends the user's sessions.
    public func resetMFA(login: String, revocationLifetime: TimeInterval) async throws(IdentityError) -> User {
        let user = try await requireUser(login: login)
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                """
                UPDATE identity_users SET totp_sealed = NULL, totp_confirmed = false, totp_last_step = NULL, updated_at = now()
                WHERE id = \(user.id)
                """, logger: logger)
            try await connection.query("DELETE FROM identity_recovery_codes WHERE user_id = \(user.id)", logger: logger)
            try await Self.revokeSessions(userID: user.id, reason: "mfa reset", lifetime: revocationLifetime, on: connection, logger: logger)
        }
        return try await requireUser(login: login)
    }
}
