import Foundation
import Tokens

/// A person an OpenID provider vouched for, as the identity service links and signs them in.
public struct FederatedAccount: Sendable {
    public var providerID: String
    public var issuer: String
    public var subject: String
    public var login: String?
    public var email: String?
    public var emailVerified: Bool
    /// The provider reported a second factor; the session then counts as MFA from `authenticatedAt`.
    public var multiFactor: Bool
    public var authenticatedAt: Date
    /// What the provider's groups grant now, and every role and group its mapping can grant:
    /// those memberships follow the provider at each sign-in; the others are left alone.
    public var roles: Set<String>
    public var groups: Set<String>
    public var managedRoles: Set<String>
    public var managedGroups: Set<String>
    /// Create a user at the first sign-in (just in time).
    public var createUsers: Bool
    /// Link to an existing user by verified e-mail only in these domains.
    public var linkVerifiedEmailDomains: [String]

    public init(
        providerID: String, issuer: String, subject: String, login: String?, email: String?, emailVerified: Bool, multiFactor: Bool,
        authenticatedAt: Date, roles: Set<String>, groups: Set<String>, managedRoles: Set<String>, managedGroups: Set<String>,
        createUsers: Bool, linkVerifiedEmailDomains: [String]
    ) {
        self.providerID = providerID
        self.issuer = issuer
        self.subject = subject
        self.login = login
        self.email = email
        self.emailVerified = emailVerified
        self.multiFactor = multiFactor
        self.authenticatedAt = authenticatedAt
        self.roles = roles
        self.groups = groups
        self.managedRoles = managedRoles
        self.managedGroups = managedGroups
        self.createUsers = createUsers
        self.linkVerifiedEmailDomains = linkVerifiedEmailDomains
    }

    /// How the session records this sign-in: `fed:<provider>`, and `mfa` when it counts as one.
    var authMethods: [String] { ["fed:" + providerID] + (multiFactor ? ["mfa"] : []) }
}

extension IdentityService {
    /// Signs in a person a provider vouched for: the user linked to (issuer, subject), or one
    /// linked now (a verified e-mail in an allowed domain, or a user created just in time), with
    /// the provider-managed roles and groups set to what the provider says now.
    /// `refreshToken`: the provider's, kept sealed to re-validate the session every
    /// `revalidateEvery` seconds (``FederatedSession``).
    public func signInFederated(
        _ account: FederatedAccount, refreshToken: String?, revalidateEvery: TimeInterval, client: ClientInfo
    ) async throws(IdentityError) -> IssuedSession {
        let user: User
        do throws(IdentityError) {
            if let linked = try await store.linkedUser(issuer: account.issuer, subject: account.subject) {
                user = linked
            } else {
                user = try await linkOrCreate(account, client: client)
            }
        } catch {
            recordAuthentication(
                "login.federated", principal: nil, outcome: "failure", client: client,
                details: "\(account.providerID) subject \(account.subject): \(error)")
            throw error
        }
        guard user.status == .active, let stored = try await store.credentials(login: user.login) else {
            recordAuthentication(
                "login.federated", principal: "User::\"\(user.login)\"", outcome: "failure", client: client,
                details: "account \(user.status.rawValue)")
            throw .invalidCredentials
        }
        try await follow(account, user: user)
        let issued = try await openSession(
            for: stored, methods: account.authMethods, mfaAt: account.multiFactor ? account.authenticatedAt : nil, client: client)
        try await store.recordFederatedSession(
            sessionID: issued.session.id, provider: account.providerID, issuer: account.issuer, subject: account.subject,
            refreshSealed: refreshToken.map { sealRefreshToken($0, session: issued.session.id) }, nextCheck: revalidateEvery)
        return issued
    }

    // MARK: Re-validation with the provider

    /// Open federated sessions due for a check, claimed for `claim` seconds.
    public func claimDueFederatedSessions(limit: Int, claim: TimeInterval) async throws(IdentityError) -> [FederatedSession] {
        try await store.claimDueFederatedSessions(limit: limit, claim: claim)
    }

    /// The provider's refresh token of a session; nil when it gave none or it cannot be opened.
    public func providerRefreshToken(of session: FederatedSession) -> String? {
        guard let text = session.refreshSealed, let sealed = try? JSONDecoder().decode(SealedSecret.self, from: Data(text.utf8)),
            let bytes = try? masterKey.open(sealed, context: Self.refreshContext(session.sessionID))
        else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The provider still vouches for the person: a rotated refresh token is kept, and when it
    /// sent their current groups (`account`), the provider-managed memberships follow them.
    public func federatedSessionConfirmed(
        _ session: FederatedSession, refreshToken: String?, account: FederatedAccount?, revalidateEvery: TimeInterval
    ) async throws(IdentityError) {
        if let account, let user = try await store.linkedUser(issuer: session.issuer, subject: session.subject) {
            try await follow(account, user: user)
        }
        try await store.federatedSessionConfirmed(
            session.sessionID, refreshSealed: refreshToken.map { sealRefreshToken($0, session: session.sessionID) }, nextCheck: revalidateEvery)
    }

    /// Ends sessions the provider no longer vouches for (account disabled or removed, refresh
    /// refused, back-channel logout, unreachable beyond the grace period), each audited with why.
    public func endFederatedSessions(_ ids: [UUID], provider: String, reason: String) async {
        for id in ids {
            guard let ended = try? await store.revokeSession(id: id, reason: "identity provider \(provider): \(reason)") else { continue }
            recordAuthentication(
                "federation.session_ended", principal: "User::\"\(ended.login)\"", outcome: "success", client: nil,
                details: "session \(id.uuidString.lowercased()) ended: \(reason)")
        }
    }

    /// Back-channel logout: every open session of one identity of a provider.
    public func federatedSessions(issuer: String, subject: String) async throws(IdentityError) -> [UUID] {
        try await store.federatedSessions(issuer: issuer, subject: subject)
    }

    private func sealRefreshToken(_ token: String, session: UUID) -> String {
        let sealed = masterKey.seal(Array(token.utf8), context: Self.refreshContext(session))
        return (try? String(decoding: JSONEncoder().encode(sealed), as: UTF8.self)) ?? ""
    }

    private static func refreshContext(_ session: UUID) -> String { "federated-refresh:\(session.uuidString.lowercased())" }

    /// Never silently: an existing user is linked only by a verified e-mail in an allowed domain;
    /// otherwise a new user is created when the provider allows it, and a login already taken by
    /// a local account is refused (an administrator links it).
    private func linkOrCreate(_ account: FederatedAccount, client: ClientInfo) async throws(IdentityError) -> User {
        if account.emailVerified, let email = account.email,
            let domain = email.split(separator: "@").last.map({ $0.lowercased() }),
            account.linkVerifiedEmailDomains.contains(domain), let existing = try await store.user(email: email)
        {
            try await store.link(issuer: account.issuer, subject: account.subject, provider: account.providerID, userID: existing.id)
            recordAuthentication(
                "federation.link", principal: "User::\"\(existing.login)\"", outcome: "success", client: client,
                details: "\(account.providerID) subject \(account.subject) by verified e-mail \(email)")
            return existing
        }
        guard account.createUsers else {
            throw .forbidden("no account is linked to this identity of \(account.providerID); an administrator must link it")
        }
        let login = try Names.login(account.login ?? account.email.flatMap { $0.split(separator: "@").first.map(String.init) } ?? "")
        guard try await store.user(login: login) == nil else {
            throw .conflict("the login \(login) belongs to another account; an administrator must link this identity")
        }
        let email = try Names.email(account.email ?? "\(login)@\(account.providerID).invalid")
        let created = try await store.createUser(login: login, email: email, displayName: "", passwordHash: nil)
        try await store.link(issuer: account.issuer, subject: account.subject, provider: account.providerID, userID: created.id)
        recordAuthentication(
            "federation.create", principal: "User::\"\(login)\"", outcome: "success", client: client,
            details: "created at the first sign-in with \(account.providerID) (subject \(account.subject))")
        return created
    }

    /// Sets the provider-managed memberships to what the provider says now (existing roles and
    /// groups only: a mapping that names an unknown one grants nothing).
    private func follow(_ account: FederatedAccount, user: User) async throws(IdentityError) {
        for role in account.managedRoles where user.roles.contains(role) != account.roles.contains(role) {
            guard try await store.role(role) != nil else { continue }
            _ = try await store.setUserMembership(login: user.login, .role, name: role, granted: account.roles.contains(role))
        }
        let known = Set(try await store.listGroups().map(\.name))
        for group in account.managedGroups where known.contains(group) && user.groups.contains(group) != account.groups.contains(group) {
            _ = try await store.setUserMembership(login: user.login, .group, name: group, granted: account.groups.contains(group))
        }
    }
}
