import Audit
import Foundation
import Logging
import PKI
import Tokens

/// Who is asking, as far as the identity service can tell: for throttling, sessions and audit.
public struct ClientInfo: Sendable {
    public var address: String
    public var userAgent: String

    public init(address: String, userAgent: String) {
        self.address = address
        self.userAgent = userAgent
    }
}

/// A session as handed to its user: the only time the refresh token exists in clear.
public struct IssuedSession: Sendable {
    public var session: Session
    /// The account as it was when the session opened (roles and groups for cookies).
    public var user: User
    public var accessToken: String
    public var refreshToken: String
    public var accessTokenLifetime: TimeInterval
}

/// What a correct password led to.
public enum LoginResult: Sendable {
    case authenticated(IssuedSession)
    /// The account has a second factor: present a code with this challenge to `POST /v1/login/mfa`.
    case secondFactorRequired(challenge: String, expiresIn: TimeInterval)
    /// The password was a one-time password: choose a new one with this challenge
    /// (`POST /v1/login/password`) to finish signing in.
    case passwordChangeRequired(challenge: String, expiresIn: TimeInterval)
}

/// An access token minted by the token endpoint.
public struct IssuedToken: Sendable {
    public var accessToken: String
    public var lifetime: TimeInterval
    /// Set when the grant rotated a refresh token.
    public var refreshToken: String?
}

/// People and services proving who they are, and the tokens they get for it.
///
/// Every path that checks a secret answers failures with the one `invalidCredentials` error
/// and, for passwords, spends the same Argon2id time whether or not the account exists.
public struct IdentityService: Sendable {
    public let store: IdentityStore
    public let keys: SigningKeys
    public let settings: IdentitySettings
    let passwords: PasswordHasher
    let secretHasher: OpaqueSecretHasher
    let recoveryCodes: RecoveryCodes
    let masterKey: MasterKey
    let recorder: any AuditRecorder
    let logger: Logger
    /// A real Argon2id hash of a random password, verified against when the account is unknown.
    let decoyHash: String

    public init(
        store: IdentityStore, keys: SigningKeys, settings: IdentitySettings, passwordPool: BlockingWorkPool,
        masterKey: MasterKey, recorder: any AuditRecorder, logger: Logger
    ) async throws {
        self.store = store
        self.keys = keys
        self.settings = settings
        self.passwords = PasswordHasher(policy: settings.passwordPolicy, pool: passwordPool)
        self.secretHasher = try OpaqueSecretHasher(key: masterKey.derivedKey(purpose: "identity-secrets"))
        self.recoveryCodes = try RecoveryCodes(pepper: masterKey.derivedKey(purpose: "recovery-codes"))
        self.masterKey = masterKey
        self.recorder = recorder
        self.logger = logger
        self.decoyHash = try await passwords.hash(OpaqueSecret.generate(prefix: ""))
    }

    // MARK: People

    /// Step one of a login. With `secondFactor` given, an enrolled account completes in one request.
    public func login(login raw: String, password: String, secondFactor: SecondFactor?, client: ClientInfo) async throws(IdentityError) -> LoginResult
    {
        let login = (try? Names.login(raw)) ?? ""
        let attempt = try await store.reserveLoginAttempt(
            login: login.isEmpty ? String(raw.lowercased().prefix(64)) : login,
            address: client.address, throttle: settings.throttle)
        let stored = login.isEmpty ? nil : try await store.credentials(login: login)
        let passwordMatches = await verifyPassword(password, against: stored?.passwordHash)
        guard let stored, passwordMatches, stored.status == .active else {
            try await store.finishLoginAttempt(attempt, succeeded: false)
            recordAuthentication(
                "login", principal: login.isEmpty ? nil : "User::\"\(login)\"", outcome: "failure", client: client,
                details: stored == nil ? "unknown login" : (passwordMatches ? "account \(stored!.status.rawValue)" : "wrong password"))
            throw .invalidCredentials
        }
        try await rehashIfNeeded(password, stored: stored)
        if let allowed = settings.localSignInRoles, try await store.requireUser(login: stored.login).roles.allSatisfy({ !allowed.contains($0) }) {
            try await store.finishLoginAttempt(attempt, succeeded: false)
            recordAuthentication(
                "login", principal: "User::\"\(stored.login)\"", outcome: "failure", client: client,
                details: "local sign-in is restricted to the roles \(allowed.sorted().joined(separator: ", ")); sign in with the identity provider")
            throw .forbidden("sign in with your identity provider")
        }
        guard stored.totpConfirmed else {
            try await store.finishLoginAttempt(attempt, succeeded: true)
            return try await authenticated(stored, methods: ["pwd"], mfaAt: nil, client: client)
        }
        // The password alone is neither a success (which would reset the failures counted
        // against the account, wrong codes included) nor a failure: each code presented next is
        // an attempt of its own.
        try await store.withdrawLoginAttempt(attempt)
        if let secondFactor {
            return try await completeSecondFactor(for: stored, secondFactor, client: client)
        }
        let challenge = try await pending(stored, .secondFactor, client: client)
        return .secondFactorRequired(challenge: challenge, expiresIn: settings.mfaChallengeLifetime)
    }

    /// Step two: a TOTP or recovery code against a pending challenge.
    public func completeLogin(challenge: String, _ secondFactor: SecondFactor, client: ClientInfo) async throws(IdentityError) -> LoginResult {
        let hash = secretHasher.digest(challenge)
        guard
            let pending = try await store.useMFAChallenge(
                hash: hash, purpose: PendingSignIn.Step.secondFactor.purpose, maxAttempts: settings.mfaChallengeAttempts),
            let stored = try await store.credentials(userID: pending.userID), stored.status == .active
        else { throw .invalidCredentials }
        let result = try await completeSecondFactor(for: stored, secondFactor, client: client)
        try await store.deleteMFAChallenge(hash: hash)
        return result
    }

    /// The last step after a one-time password: the person's own new password, which ends every
    /// session opened before it and opens the new one.
    public func completeLogin(challenge: String, newPassword: String, client: ClientInfo) async throws(IdentityError) -> IssuedSession {
        let hash = secretHasher.digest(challenge)
        guard
            let pending = try await store.useMFAChallenge(
                hash: hash, purpose: PendingSignIn.Step.passwordChange(authMethods: [], mfaAt: nil).purpose,
                maxAttempts: settings.mfaChallengeAttempts),
            let stored = try await store.credentials(userID: pending.userID), stored.status == .active,
            stored.passwordChangeRequired
        else { throw .invalidCredentials }
        let password = try Names.password(newPassword, field: "new_password")
        guard await !verifyPassword(password, against: stored.passwordHash) else {
            throw .invalid("new_password", "must differ from the one-time password")
        }
        try await store.replaceOneTimePassword(
            userID: stored.userID, hash: try await hashPassword(password), revocationLifetime: settings.revocationLifetime)
        try await store.deleteMFAChallenge(hash: hash)
        recordAuthentication(
            "password.change", principal: "User::\"\(stored.login)\"", outcome: "success", client: client,
            details: "one-time password replaced; earlier sessions ended")
        return try await openSession(for: stored, methods: pending.authMethods, mfaAt: pending.mfaAt, client: client)
    }

    /// A session, unless the password was a one-time password: then the step that replaces it.
    private func authenticated(
        _ stored: StoredCredentials, methods: [String], mfaAt: Date?, client: ClientInfo
    ) async throws(IdentityError) -> LoginResult {
        guard stored.passwordChangeRequired else {
            return .authenticated(try await openSession(for: stored, methods: methods, mfaAt: mfaAt, client: client))
        }
        let challenge = try await pending(stored, .passwordChange(authMethods: methods, mfaAt: mfaAt), client: client)
        recordAuthentication(
            "login", principal: "User::\"\(stored.login)\"", outcome: "pending", client: client,
            details: "one-time password accepted; a new password is required")
        return .passwordChangeRequired(challenge: challenge, expiresIn: settings.mfaChallengeLifetime)
    }

    /// Stores a pending step behind a new opaque challenge.
    private func pending(_ stored: StoredCredentials, _ step: PendingSignIn.Step, client: ClientInfo) async throws(IdentityError) -> String {
        let challenge = OpaqueSecret.generate(prefix: "pcm_")
        try await store.createMFAChallenge(
            hash: secretHasher.digest(challenge), userID: stored.userID, address: client.address,
            lifetime: settings.mfaChallengeLifetime, step: step)
        return challenge
    }

    /// Every code is an attempt against the account's login throttle, across challenges: a wrong
    /// one is a failed login, so a password opens no extra guesses, and while the account is
    /// locked even the right code is refused, until the window passes or an administrator unlocks it.
    private func completeSecondFactor(
        for stored: StoredCredentials, _ factor: SecondFactor, client: ClientInfo
    ) async throws(IdentityError) -> LoginResult {
        let attempt = try await store.reserveLoginAttempt(login: stored.login, address: client.address, throttle: settings.throttle)
        let accepted: Bool
        switch factor {
        case let .totp(code):
            if let step = try totp(for: stored)?.verify(code, at: Date(), lastUsedStep: stored.totpLastStep.map(UInt64.init)) {
                accepted = try await store.claimTOTPStep(userID: stored.userID, step: Int64(step))
            } else {
                accepted = false
            }
        case let .recoveryCode(code):
            let hashes = try await store.recoveryCodeHashes(userID: stored.userID)
            if let index = recoveryCodes.match(code, storedHashes: hashes) {
                accepted = try await store.consumeRecoveryCode(userID: stored.userID, hash: hashes[index])
            } else {
                accepted = false
            }
        }
        try await store.finishLoginAttempt(attempt, succeeded: accepted)
        guard accepted else {
            recordAuthentication("login.mfa", principal: "User::\"\(stored.login)\"", outcome: "failure", client: client, details: "wrong code")
            throw .invalidCredentials
        }
        let method = if case .totp = factor { "otp" } else { "recovery_code" }
        return try await authenticated(stored, methods: ["pwd", method], mfaAt: Date(), client: client)
    }

    private func verifyPassword(_ password: String, against hash: String?) async -> Bool {
        do {
            let matches = try await passwords.verify(password, against: hash ?? decoyHash)
            return matches && hash != nil
        } catch {
            return false
        }
    }

    private func rehashIfNeeded(_ password: String, stored: StoredCredentials) async throws(IdentityError) {
        guard let hash = stored.passwordHash, (try? passwords.needsRehash(hash)) == true,
            let fresh = try? await passwords.hash(password)
        else { return }
        try await store.setPasswordHash(login: stored.login, fresh)
    }

    func openSession(
        for stored: StoredCredentials, methods: [String], mfaAt: Date?, client: ClientInfo
    ) async throws(IdentityError) -> IssuedSession {
        let refreshToken = OpaqueSecret.generate(prefix: "pcr_")
        let session = try await store.createSession(
            userID: stored.userID, authMethods: methods, mfaAt: mfaAt, clientAddress: client.address, userAgent: String(client.userAgent.prefix(256)),
            lifetime: settings.sessionLifetime, refreshHash: secretHasher.digest(refreshToken), refreshLifetime: settings.refreshTokenLifetime)
        let user = try await store.requireUser(login: stored.login)
        recordAuthentication(
            "login", principal: "User::\"\(user.login)\"", outcome: "success", client: client,
            details: "session \(session.id.uuidString.lowercased()), methods \(methods.joined(separator: "+"))")
        return IssuedSession(
            session: session, user: user, accessToken: try accessToken(for: user, session: session), refreshToken: refreshToken,
            accessTokenLifetime: settings.accessTokenLifetime)
    }

    func accessToken(for user: User, session: Session) throws(IdentityError) -> String {
        let now = Date()
        let claims = Claims(
            issuer: settings.issuer, subject: user.login, audience: settings.audience, issuedAt: now,
            expiresAt: min(now + settings.accessTokenLifetime, session.expiresAt), tokenID: Claims.newTokenID(), subjectKind: .user,
            roles: user.roles, groups: user.groups, sessionID: session.id.uuidString.lowercased(), authMethods: session.authMethods,
            mfaTime: session.mfaAt)
        return try keys.signer().paseto(claims)
    }

    /// Ends the session a refresh token belongs to (logout). Unknown tokens are ignored, as RFC 7009 asks.
    public func logout(refreshToken: String, client: ClientInfo) async throws(IdentityError) {
        if let sessionID = try await store.revokeSession(byRefreshHash: secretHasher.digest(refreshToken), reason: "logout") {
            recordAuthentication(
                "logout", principal: nil, outcome: "success", client: client,
                details: "session \(sessionID.uuidString.lowercased())")
        }
    }

    /// Ends a session by id (sign-out with a cookie or an access token, or an administrator).
    public func endSession(_ id: UUID, reason: String, client: ClientInfo? = nil) async throws(IdentityError) -> Session {
        let session = try await store.revokeSession(id: id, reason: reason)
        recordAuthentication(
            "logout", principal: "User::\"\(session.login)\"", outcome: "success", client: client,
            details: "session \(id.uuidString.lowercased()) ended: \(reason)")
        return session
    }

    // MARK: Token endpoint

    /// `grant_type=client_credentials`: a service account's secret for an access token. `boundTo`
    /// is the client certificate the service called with (through the gateway), which must be the
    /// service's own: the token is then bound to it (RFC 8705 `cnf.x5t#S256`) and refused by
    /// every gateway over any other connection, so a stolen copy is worthless.
    public func clientCredentials(
        clientID: String, secret: String, boundTo certificate: (service: String, digest: CertificateDigest)? = nil,
        client: ClientInfo
    ) async throws(IdentityError) -> IssuedToken {
        guard let name = try? Names.identifier(clientID, field: "client_id"),
            let service = try await store.serviceAuthenticated(bySecretHash: secretHasher.digest(secret)), service.name == name
        else {
            recordAuthentication(
                "token.client_credentials", principal: nil, outcome: "failure", client: client,
                details: "client \(String(clientID.prefix(64)))")
            throw .invalidCredentials
        }
        if let certificate, certificate.service != service.name {
            recordAuthentication(
                "token.client_credentials", principal: "Service::\"\(service.name)\"", outcome: "failure", client: client,
                details: "client certificate of Service::\"\(certificate.service)\"")
            throw .invalidCredentials
        }
        let now = Date()
        let claims = Claims(
            issuer: settings.issuer, subject: service.name, audience: settings.audience, issuedAt: now,
            expiresAt: now + settings.accessTokenLifetime, tokenID: Claims.newTokenID(), subjectKind: .service,
            roles: service.roles, authMethods: ["client_secret"],
            certificateThumbprint: certificate.map { Base64URL.encode($0.digest.bytes) })
        recordAuthentication(
            "token.client_credentials", principal: "Service::\"\(service.name)\"", outcome: "success", client: client,
            details: certificate.map { "bound to client certificate sha256 \($0.digest.hex)" })
        return IssuedToken(accessToken: try keys.signer().paseto(claims), lifetime: settings.accessTokenLifetime, refreshToken: nil)
    }

    /// `grant_type=refresh_token`: rotates the refresh token. Presenting a used one revokes its session.
    public func refresh(_ refreshToken: String, client: ClientInfo) async throws(IdentityError) -> IssuedToken {
        guard refreshToken.hasPrefix("pcr_") else { throw .invalidCredentials }
        let successor = OpaqueSecret.generate(prefix: "pcr_")
        switch try await store.rotateRefreshToken(
            hash: secretHasher.digest(refreshToken), successorHash: secretHasher.digest(successor),
            refreshLifetime: settings.refreshTokenLifetime)
        {
        case .invalid:
            recordAuthentication("token.refresh", principal: nil, outcome: "failure", client: client, details: "invalid refresh token")
            throw .invalidCredentials
        case let .reused(sessionID):
            logger.warning("refresh token reuse: session revoked", metadata: ["session": "\(sessionID)"])
            recordAuthentication(
                "token.refresh", principal: nil, outcome: "failure", client: client,
                details: "reused refresh token; session \(sessionID.uuidString.lowercased()) revoked")
            throw .invalidCredentials
        case let .rotated(session, user):
            recordAuthentication("token.refresh", principal: "User::\"\(user.login)\"", outcome: "success", client: client, details: nil)
            return IssuedToken(
                accessToken: try accessToken(for: user, session: session), lifetime: settings.accessTokenLifetime,
                refreshToken: successor)
        }
    }

    // MARK: Bearer tokens presented to this service

    /// Verifies an access token minted here and checks, against the database, that its subject is
    /// still active and its session still open: the identity API never trusts a stale token.
    public func authenticate(bearer token: String) async throws(IdentityError) -> (claims: Claims, user: User?, service: ServiceAccount?) {
        let verifier = PasetoPublicVerifier(keys: keys.verificationKeys, policy: settings.claimsPolicy)
        let claims: Claims
        do { claims = try verifier.verify(token, now: Date()) } catch { throw .unauthenticated("invalid access token: \(error)") }
        switch claims.subjectKind {
        case .user:
            guard let user = try await store.user(login: claims.subject), user.status == .active,
                let sessionText = claims.sessionID, let sessionID = UUID(uuidString: sessionText),
                let session = try await store.session(id: sessionID), session.revokedAt == nil, session.expiresAt > Date()
            else { throw .unauthenticated("the token's account or session is no longer valid") }
            return (claims, user, nil)
        case .service:
            guard let service = try await store.service(claims.subject), service.status == .active else {
                throw .unauthenticated("the token's service account is no longer valid")
            }
            return (claims, nil, service)
        }
    }

    // MARK: MFA enrolment

    /// Starts TOTP enrolment: a new secret, sealed under the master key, shown once as a URI.
    public func beginTOTPEnrolment(user: User) async throws(IdentityError) -> (secret: String, uri: String) {
        let secret = TOTP.generateSecret()
        try await storePendingTOTP(user: user, secret: secret)
        return (Base32.encode(secret), TOTP(secret: secret).provisioningURI(issuer: settings.totpIssuer, account: user.login))
    }

    /// Enrols a second factor whose secret the operator chose (the demo organisation's, so the
    /// walkthrough can name it): stored and confirmed as if its first code had been entered.
    /// Returns the recovery codes.
    public func enrolTOTP(user: User, secret: [UInt8]) async throws(IdentityError) -> [String] {
        guard secret.count >= 16 else { throw .invalid("totp_secret", "expected at least 128 bits") }
        try await storePendingTOTP(user: user, secret: secret)
        return try await confirmTOTPEnrolment(user: user, code: TOTP(secret: secret).code(at: Date()))
    }

    private func storePendingTOTP(user: User, secret: [UInt8]) async throws(IdentityError) {
        let sealed = masterKey.seal(secret, context: "totp:\(user.id.uuidString.lowercased())")
        let json = #"{"nonce":"\#(sealed.nonce)","ciphertext":"\#(sealed.ciphertext)"}"#
        try await store.beginTOTPEnrolment(userID: user.id, sealed: json)
    }

    /// Confirms enrolment with a first code; returns the recovery codes, which are never shown again.
    public func confirmTOTPEnrolment(user: User, code: String) async throws(IdentityError) -> [String] {
        guard let stored = try await store.credentials(userID: user.id), !stored.totpConfirmed, let totp = try totp(for: stored) else {
            throw .conflict("no pending enrolment: start one first")
        }
        guard let step = totp.verify(code, at: Date()) else { throw .invalid("code", "does not match the enrolled secret") }
        let codes = recoveryCodes.generate()
        try await store.confirmTOTP(userID: user.id, step: Int64(step), recoveryHashes: codes.map(\.hash))
        recordAuthentication("mfa.enrol", principal: "User::\"\(user.login)\"", outcome: "success", client: nil, details: nil)
        return codes.map(\.code)
    }

    private func totp(for stored: StoredCredentials) throws(IdentityError) -> TOTP? {
        guard let sealedText = stored.sealedTOTP else { return nil }
        guard let sealed = try? JSONDecoder().decode(SealedSecret.self, from: Data(sealedText.utf8)),
            let secret = try? masterKey.open(sealed, context: "totp:\(stored.userID.uuidString.lowercased())")
        else { throw .unavailable("the stored second factor cannot be opened with this master key") }
        return TOTP(secret: secret)
    }

    // MARK: Secrets for operators

    /// Hashes a password with the configured Argon2id cost.
    public func hashPassword(_ password: String) async throws(IdentityError) -> String {
        let checked = try Names.password(password)
        do {
            return try await passwords.hash(checked)
        } catch .overloaded {
            throw .overloaded
        } catch {
            throw .invalid("password", error.description)
        }
    }

    /// Creates a client secret for a service; the returned value is shown once.
    public func newServiceSecret(
        service: String, lifetime: TimeInterval?, revokeOthers: Bool
    ) async throws(IdentityError) -> (secret: String, metadata: ServiceSecret) {
        let secret = OpaqueSecret.generate(prefix: "pcs_")
        let metadata = try await store.addServiceSecret(
            service: service, hash: secretHasher.digest(secret), expiresAt: Date() + (lifetime ?? settings.serviceSecretLifetime),
            revokeOthers: revokeOthers, revocationLifetime: settings.revocationLifetime)
        return (secret, metadata)
    }

    // MARK: Audit

    func recordAuthentication(_ action: String, principal: String?, outcome: String, client: ClientInfo?, details: String?) {
        recorder.record(
            AuditEvent(
                kind: .authentication, principal: principal, authMethod: "password", action: action,
                clientAddress: client?.address, outcome: outcome, details: details))
    }
}

/// The second factor presented with a login.
public enum SecondFactor: Sendable {
    case totp(String)
    case recoveryCode(String)
}
