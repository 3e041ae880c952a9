import Foundation
import PostgresNIO

/// Limits on password guessing, enforced in PostgreSQL so that they hold across replicas.
public struct LoginThrottle: Sendable, Equatable {
    /// Failed attempts allowed per login within `window` before further attempts are refused.
    public var maxFailuresPerLogin: Int
    /// Failed attempts allowed per client address within `window` (password spraying).
    public var maxFailuresPerAddress: Int
    /// Sliding window; a lockout lifts when its oldest counted failure leaves it.
    public var window: TimeInterval

    public init(maxFailuresPerLogin: Int = 5, maxFailuresPerAddress: Int = 50, window: TimeInterval = 900) {
        self.maxFailuresPerLogin = maxFailuresPerLogin
        self.maxFailuresPerAddress = maxFailuresPerAddress
        self.window = window
    }
}

extension IdentityStore {
    /// Reserves one attempt for `login` from `address`, or says how long to wait. Pending
    /// attempts count as failures, and reservations for one login are serialised by an advisory
    /// lock, so N concurrent guesses cannot slip past a limit of N-1. Unknown logins are counted
    /// the same way, so throttling says nothing about which logins exist.
    func reserveLoginAttempt(login: String, address: String, throttle: LoginThrottle) async throws(IdentityError) -> Int64 {
        let logger = self.logger
        return try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext('login:' || \(login)))", logger: logger)
            let rows = try await connection.query(
                """
                WITH last_success AS (
                    SELECT COALESCE(max(attempted_at), '-infinity') AS at FROM identity_login_attempts
                    WHERE login = \(login) AND succeeded AND attempted_at > now() - make_interval(secs => \(throttle.window))
                ), by_login AS (
                    SELECT count(*) AS failures, min(attempted_at) AS oldest FROM identity_login_attempts, last_success
                    WHERE login = \(login) AND succeeded IS NOT TRUE
                      AND attempted_at > now() - make_interval(secs => \(throttle.window)) AND attempted_at > last_success.at
                ), by_address AS (
                    SELECT count(*) AS failures, min(attempted_at) AS oldest FROM identity_login_attempts
                    WHERE client_address = \(address) AND succeeded IS NOT TRUE
                      AND attempted_at > now() - make_interval(secs => \(throttle.window))
                )
                SELECT by_login.failures,
                       COALESCE(ceil(extract(epoch FROM by_login.oldest + make_interval(secs => \(throttle.window)) - now())), 0)::bigint,
                       by_address.failures,
                       COALESCE(ceil(extract(epoch FROM by_address.oldest + make_interval(secs => \(throttle.window)) - now())), 0)::bigint
                FROM by_login, by_address
                """, logger: logger)
            for try await (loginFailures, loginWait, addressFailures, addressWait) in rows.decode((Int64, Int64, Int64, Int64).self) {
                if loginFailures >= throttle.maxFailuresPerLogin {
                    throw IdentityError.throttled(retryAfterSeconds: max(1, Int(loginWait)))
                }
                if addressFailures >= throttle.maxFailuresPerAddress {
                    throw IdentityError.throttled(retryAfterSeconds: max(1, Int(addressWait)))
                }
            }
            let inserted = try await connection.query(
                """
                INSERT INTO identity_login_attempts (login, client_address) VALUES (\(login), \(address)) RETURNING id
                """, logger: logger)
            for try await id in inserted.decode(Int64.self) { return id }
            throw IdentityError.unavailable("attempt insert returned nothing")
        }
    }

    func finishLoginAttempt(_ id: Int64, succeeded: Bool) async throws(IdentityError) {
        try await run {
            try await client.query("UPDATE identity_login_attempts SET succeeded = \(succeeded) WHERE id = \(id)", logger: logger)
        }
    }

    /// Forgets a reserved attempt that is decided by what follows it (a right password whose
    /// second factor is still to come): it counts neither as a failure nor as a success.
    func withdrawLoginAttempt(_ id: Int64) async throws(IdentityError) {
        try await run {
            try await client.query("DELETE FROM identity_login_attempts WHERE id = \(id)", logger: logger)
        }
    }

    /// Lifts a lockout early (operator action after confirming the owner).
    public func clearFailedAttempts(login: String) async throws(IdentityError) {
        try await run {
            try await client.query(
                "DELETE FROM identity_login_attempts WHERE login = \(login) AND succeeded IS NOT TRUE", logger: logger)
        }
    }

    // MARK: MFA challenges

    func createMFAChallenge(
        hash: [UInt8], userID: UUID, address: String, lifetime: TimeInterval, step: PendingSignIn.Step
    ) async throws(IdentityError) {
        try await run {
            try await client.query(
                """
                INSERT INTO identity_mfa_challenges (token_hash, user_id, client_address, expires_at, purpose, auth_methods, mfa_at)
                VALUES (\(ByteBuffer(bytes: hash)), \(userID), \(address), now() + make_interval(secs => \(lifetime)),
                        \(step.purpose), \(step.authMethods), \(step.mfaAt))
                """, logger: logger)
        }
    }

    /// Counts one attempt against a pending challenge of `purpose` and returns it; nil when
    /// unknown, of another purpose, expired, or out of attempts (then the login must start again).
    func useMFAChallenge(hash: [UInt8], purpose: String, maxAttempts: Int) async throws(IdentityError) -> PendingSignIn? {
        try await run {
            let rows = try await client.query(
                """
                UPDATE identity_mfa_challenges SET attempts = attempts + 1
                WHERE token_hash = \(ByteBuffer(bytes: hash)) AND purpose = \(purpose) AND expires_at > now()
                  AND attempts < \(maxAttempts)
                RETURNING user_id, auth_methods, mfa_at
                """, logger: logger)
            for try await (userID, methods, mfaAt) in rows.decode((UUID, [String], Date?).self) {
                return PendingSignIn(userID: userID, authMethods: methods, mfaAt: mfaAt)
            }
            return nil
        }
    }

    func deleteMFAChallenge(hash: [UInt8]) async throws(IdentityError) {
        try await run {
            try await client.query("DELETE FROM identity_mfa_challenges WHERE token_hash = \(ByteBuffer(bytes: hash))", logger: logger)
        }
    }

    /// Deletes what can no longer matter: old attempts, expired challenges, refresh tokens and
    /// revocations. Run periodically by the service.
    public func purgeExpired(attemptRetention: TimeInterval) async throws(IdentityError) {
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                """
                DELETE FROM identity_login_attempts WHERE attempted_at < now() - make_interval(secs => \(attemptRetention))
                """, logger: logger)
            try await connection.query("DELETE FROM identity_mfa_challenges WHERE expires_at < now()", logger: logger)
            try await connection.query("DELETE FROM identity_sign_on_codes WHERE expires_at < now()", logger: logger)
            try await connection.query("DELETE FROM identity_refresh_tokens WHERE expires_at < now()", logger: logger)
            try await connection.query("DELETE FROM identity_revocations WHERE expires_at < now()", logger: logger)
        }
    }
}
