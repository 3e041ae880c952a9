import Audit
import Foundation
import PKI
import X509

/// Who makes an administrative change, as the audit trail records it.
public struct AdminActor: Sendable, Equatable {
    /// `User::"<login>"`, `Service::"<name>"` or `Operator::"<OS user>"`.
    public var principal: String
    /// `token`, `session`, `mtls` or `cli`.
    public var authMethod: String
    /// The route the change came through (`identity-admin`, `portcullis-console`), nil for the CLI.
    public var route: String?
    /// The policies that allowed the request and their set's version.
    public var policies: [String]
    public var policyVersion: String?

    public init(principal: String, authMethod: String, route: String?, policies: [String] = [], policyVersion: String? = nil) {
        self.principal = principal
        self.authMethod = authMethod
        self.route = route
        self.policies = policies
        self.policyVersion = policyVersion
    }
}

/// The identity changes an administrator can make, in one place for every way of making them
/// (admin API, admin console, operator commands): each validates its input, applies the change
/// and records it in the audit trail with the acting administrator and a before/after summary.
public struct AdminOperations: Sendable {
    public let service: IdentityService
    public let actor: AdminActor

    public init(service: IdentityService, actor: AdminActor) {
        self.service = service
        self.actor = actor
    }

    var store: IdentityStore { service.store }
    private var revocationLifetime: TimeInterval { service.settings.revocationLifetime }

    // MARK: Users

    /// Creates a user with an optional password (none: the account cannot log in until one is
    /// set), and grants `roles` and `groups`. A `oneTimePassword` works for one sign-in, which
    /// must choose a new one.
    public func createUser(
        login: String, email: String, displayName: String, password: String?, oneTimePassword: Bool = false, roles: [String],
        groups: [String]
    ) async throws(IdentityError) -> User {
        let login = try Names.login(login)
        let email = try Names.email(email)
        let displayName = try Names.text(displayName, field: "display_name")
        let roles = try roles.map { role throws(IdentityError) in try Names.identifier(role, field: "roles") }
        let groups = try groups.map { group throws(IdentityError) in try Names.identifier(group, field: "groups") }
        // Unknown roles or groups refuse the whole request before anything is created.
        for role in roles where try await store.role(role) == nil { throw .notFound("role \(role)") }
        let known = Set(try await store.listGroups().map(\.name))
        if let unknown = groups.first(where: { !known.contains($0) }) { throw .notFound("group \(unknown)") }
        let hash: String? = if let password { try await service.hashPassword(try Names.password(password)) } else { nil }
        var user = try await store.createUser(
            login: login, email: email, displayName: displayName, passwordHash: hash, passwordChangeRequired: oneTimePassword && hash != nil)
        for role in roles { user = try await store.setUserMembership(login: user.login, .role, name: role, granted: true).after }
        for group in groups { user = try await store.setUserMembership(login: user.login, .group, name: group, granted: true).after }
        record("user.create", target: Self.user(user.login), before: nil, after: user)
        return user
    }

    /// Changes any of e-mail, display name, status and password; disabling the account or
    /// changing its password ends every session and token it had.
    public func updateUser(
        login: String, email: String?, displayName: String?, status: AccountStatus?,
        password: String?, oneTimePassword: Bool = false
    ) async throws(IdentityError) -> User {
        let email = try email.map { value throws(IdentityError) in try Names.email(value) }
        let displayName = try displayName.map { value throws(IdentityError) in try Names.text(value, field: "display_name") }
        let password = try password.map { value throws(IdentityError) in try Names.password(value) }
        let before = try await store.requireUser(login: login)
        if email != nil || displayName != nil { _ = try await store.updateUser(login: login, email: email, displayName: displayName) }
        if let status { _ = try await store.setStatus(login: login, status, revocationLifetime: revocationLifetime) }
        if let password {
            try await store.replacePassword(
                login: login, hash: try await service.hashPassword(password), oneTime: oneTimePassword,
                revocationLifetime: revocationLifetime)
        }
        let after = try await store.requireUser(login: login)
        record(password == nil ? "user.update" : "user.update+password", target: Self.user(login), before: before, after: after)
        return after
    }

    /// Links an identity of a provider to an existing user: the administrator's explicit decision
    /// (sign-in never links by a matching login on its own).
    public func linkIdentity(login: String, provider: String, issuer: String, subject: String) async throws(IdentityError) -> User {
        let user = try await store.requireUser(login: try Names.login(login))
        guard !subject.isEmpty, subject.utf8.count <= 255 else { throw .invalid("subject", "must be 1 to 255 bytes") }
        try await store.link(issuer: issuer, subject: subject, provider: provider, userID: user.id)
        record(
            "user.link", target: Self.user(user.login), before: nil,
            after: LinkedIdentity(provider: provider, issuer: issuer, subject: subject, linkedAt: Date(), lastSignInAt: nil))
        return user
    }

    /// Removes a link: that identity no longer signs in as the user, and every session it opened
    /// ends now rather than at its next re-validation.
    public func unlinkIdentity(login: String, issuer: String, subject: String) async throws(IdentityError) -> User {
        let user = try await store.requireUser(login: try Names.login(login))
        let sessions = try await store.federatedSessions(issuer: issuer, subject: subject)
        guard try await store.unlink(issuer: issuer, subject: subject, userID: user.id) else {
            throw .notFound("\(user.login) has no linked identity \(subject) of \(issuer)")
        }
        for id in sessions { _ = try await store.revokeSession(id: id, reason: "identity unlinked by an administrator") }
        record("user.unlink", target: Self.user(user.login), before: ["issuer": issuer, "subject": subject], after: nil)
        return user
    }

    /// Removes the user's second factor and recovery codes and ends their sessions.
    public func resetMFA(login: String) async throws(IdentityError) -> User {
        let user = try await store.resetMFA(login: login, revocationLifetime: revocationLifetime)
        record("user.mfa_reset", target: Self.user(login), before: nil, after: user)
        return user
    }

    /// Clears the failed login attempts that throttle the account.
    public func unlock(login: String) async throws(IdentityError) {
        try await store.clearFailedAttempts(login: login)
        record("user.unlock", target: Self.user(login), before: nil, after: nil)
    }

    public func setMembership(login: String, _ membership: Membership, name: String, granted: Bool) async throws(IdentityError) -> User {
        let name = try Names.identifier(name, field: membership.rawValue)
        let (before, after) = try await store.setUserMembership(login: login, membership, name: name, granted: granted)
        record("user.\(membership.rawValue).\(granted ? "grant" : "revoke")", target: Self.user(login), before: before, after: after)
        return after
    }

    /// Ends a session at once on every gateway.
    public func revokeSession(_ id: UUID) async throws(IdentityError) -> Session {
        let session = try await service.endSession(id, reason: "revoked by \(actor.principal)")
        record("session.revoke", target: "Session::\"\(id.uuidString.lowercased())\"", before: nil, after: session)
        return session
    }

    // MARK: Roles and groups

    public func createRole(name: String, description: String, parents: [String]) async throws(IdentityError) -> Role {
        let name = try Names.identifier(name, field: "name")
        let description = try Names.text(description, field: "description")
        let parents = try parents.map { parent throws(IdentityError) in try Names.identifier(parent, field: "parents") }
        let role = try await store.createRole(name: name, description: description, parents: parents)
        record("role.create", target: "Role::\"\(role.name)\"", before: nil, after: role)
        return role
    }

    /// Adds or removes a parent of a role (a cycle is refused).
    public func setRoleParent(role: String, parent: String, granted: Bool) async throws(IdentityError) -> Role {
        let role = try Names.identifier(role, field: "name")
        let parent = try Names.identifier(parent, field: "parent")
        let before = try await store.requireRole(role)
        let after =
            granted
            ? try await store.addRoleParent(role: role, parent: parent)
            : try await store.removeRoleParent(role: role, parent: parent)
        record(granted ? "role.parent.add" : "role.parent.remove", target: "Role::\"\(role)\"", before: before, after: after)
        return after
    }

    public func createGroup(name: String, description: String) async throws(IdentityError) -> Group {
        let name = try Names.identifier(name, field: "name")
        let description = try Names.text(description, field: "description")
        let created = try await store.createGroup(name: name, description: description)
        record("group.create", target: "Group::\"\(created.name)\"", before: nil, after: created)
        return created
    }

    public func deleteGroup(name: String) async throws(IdentityError) -> Group {
        let deleted = try await store.deleteGroup(name: try Names.identifier(name, field: "name"))
        record("group.delete", target: "Group::\"\(deleted.name)\"", before: deleted, after: nil as Group?)
        return deleted
    }

    // MARK: Service accounts

    public func createService(name: String, owner: String, spiffeID: String?, roles: [String]) async throws(IdentityError) -> ServiceAccount {
        let name = try Names.identifier(name, field: "name")
        let owner = try Names.text(owner, field: "owner")
        let spiffeID = try spiffeID.map { value throws(IdentityError) in try Names.spiffeID(value) }
        let roles = try roles.map { role throws(IdentityError) in try Names.identifier(role, field: "roles") }
        let created = try await store.createService(name: name, owner: owner, spiffeID: spiffeID, roles: roles)
        record("service.create", target: Self.service(created.name), before: nil, after: created)
        return created
    }

    /// Disabling a service account revokes its tokens on every gateway.
    public func setServiceStatus(name: String, _ status: AccountStatus) async throws(IdentityError) -> ServiceAccount {
        let (before, after) = try await store.setServiceStatus(name: name, status, revocationLifetime: revocationLifetime)
        record("service.status", target: Self.service(name), before: before, after: after)
        return after
    }

    public func setServiceRole(name: String, role: String, granted: Bool) async throws(IdentityError) -> ServiceAccount {
        let role = try Names.identifier(role, field: "role")
        let before = try await store.requireService(name)
        let after = try await store.setServiceRole(name: name, role: role, granted: granted)
        record("service.role.\(granted ? "grant" : "revoke")", target: Self.service(name), before: before, after: after)
        return after
    }

    /// A new client secret, returned once; with `revokeOthers`, the previous ones stop working.
    public func newServiceSecret(
        service name: String, lifetime: TimeInterval?, revokeOthers: Bool
    )
        async throws(IdentityError) -> (secret: String, metadata: ServiceSecret)
    {
        let (secret, metadata) = try await service.newServiceSecret(service: name, lifetime: lifetime, revokeOthers: revokeOthers)
        record("service.secret.create", target: Self.service(name), before: nil, after: metadata)
        return (secret, metadata)
    }

    public func revokeServiceSecret(service name: String, secretID: UUID) async throws(IdentityError) {
        try await store.revokeServiceSecret(service: name, secretID: secretID)
        record("service.secret.revoke", target: Self.service(name), before: nil, after: ["secret": secretID.uuidString.lowercased()])
    }

    /// A one-time join token for the service's first certificate, returned once.
    public func newJoinToken(
        service name: String, lifetime: TimeInterval
    ) async throws(WorkloadError)
        -> (token: String, service: ServiceAccount, expiresAt: Date)
    {
        let checked: String
        do { checked = try Names.identifier(name, field: "name") } catch { throw .invalidInput(error.description) }
        let created = try await service.newJoinToken(service: checked, lifetime: lifetime, createdBy: actor.principal)
        record("service.join_token.create", target: Self.service(created.service.name), before: nil, after: ["expires_at": created.expiresAt])
        return created
    }

    /// Revokes a certificate by serial (`expiresAt`: its notAfter when known, else taken from
    /// the issuance record), and the certificates renewed from it. Records nothing when nothing
    /// was newly revoked.
    public func revokeCertificate(
        serial: String, reason: RevocationReason, expiresAt: Date?
    ) async throws(WorkloadError)
        -> CertificateRevocation
    {
        let normalized: String
        do { normalized = try Certificate.SerialNumber(hex: serial.lowercased()).hex } catch { throw .invalidInput(error.description) }
        let outcome = try await service.revokeCertificate(serial: normalized, reason: reason, revokedBy: actor.principal, expiresAt: expiresAt)
        struct Revoked: Encodable {
            let reason: String
            let renewalsRevoked: [String]
            enum CodingKeys: String, CodingKey {
                case reason
                case renewalsRevoked = "renewals_revoked"
            }
        }
        if outcome.revoked || !outcome.renewals.isEmpty {
            record(
                "certificate.revoke", target: "Certificate::\"\(normalized)\"", before: nil,
                after: Revoked(reason: reason.rawValue, renewalsRevoked: outcome.renewals))
        }
        return outcome
    }

    /// A random password for accounts an administrator creates or resets: 20 characters from an
    /// unambiguous 55-character alphabet (about 115 bits, from the system CSPRNG), shown once.
    public static func oneTimePassword() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
    }

    // MARK: Audit

    /// Records one change (or refusal) by the actor, with a before/after summary.
    public func record(_ action: String, target: String, before: (any Encodable)?, after: (any Encodable)?, outcome: String = "applied") {
        let details = (try? Self.encoder.encode(ChangeSummary(before: before, after: after))).map { String(decoding: $0, as: UTF8.self) }
        service.recorder.record(
            AuditEvent(
                kind: .admin, principal: actor.principal, authMethod: actor.authMethod, action: action, route: actor.route,
                target: target, outcome: outcome, policies: actor.policies, policyVersion: actor.policyVersion,
                details: details))
    }

    /// As the admin API encodes its answers, so a change reads the same in the trail and on the wire.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    private static func user(_ login: String) -> String { "User::\"\(login)\"" }
    private static func service(_ name: String) -> String { "Service::\"\(name)\"" }
}

/// An admin change's before/after summary for the audit record's details.
private struct ChangeSummary: Encodable {
    let before: (any Encodable)?
    let after: (any Encodable)?

    enum CodingKeys: String, CodingKey { case before, after }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if let before { try container.encode(before, forKey: .before) }
        if let after { try container.encode(after, forKey: .after) }
    }
}
