import Foundation
import Hummingbird
import Identity
import PKI

/// Identities: users (create with a one-time password, disable/enable, reset MFA, roles and
/// groups, sessions), roles with their hierarchy and groups, service accounts (secrets, join
/// tokens, issued certificates and their revocation). Every change goes through
/// `AdminOperations`, which records it with the acting administrator.
extension AdminConsole {
    static let identityPages: [ConsolePage] = [
        ConsolePage(.get, "users") { console, request, context in try await console.users(request, context) },
        ConsolePage(.post, "users") { console, _, context in try await console.createUser(context) },
        ConsolePage(.get, "users/:login") { console, _, context in try await console.user(try context.parameter("login"), context, notice: [:]) },
        ConsolePage(.post, "users/:login/status") { console, _, context in
            let login = try context.parameter("login")
            _ = try await console.operations(context).updateUser(
                login: login, email: nil, displayName: nil,
                status: try Self.status(context), password: nil)
            return Self.redirect("users/" + Self.escapePath(login))
        },
        ConsolePage(.post, "users/:login/mfa-reset") { console, _, context in
            let login = try context.parameter("login")
            _ = try await console.operations(context).resetMFA(login: login)
            return Self.redirect("users/" + Self.escapePath(login))
        },
        ConsolePage(.post, "users/:login/memberships") { console, _, context in
            let login = try context.parameter("login")
            let membership: Membership = context.field("kind") == "group" ? .group : .role
            _ = try await console.operations(context).setMembership(
                login: login, membership, name: try context.requiredField("name"),
                granted: context.field("grant") != "revoke")
            return Self.redirect("users/" + Self.escapePath(login))
        },
        ConsolePage(.post, "users/:login/sessions/:id/revoke") { console, _, context in
            let login = try context.parameter("login")
            guard let id = UUID(uuidString: try context.parameter("id")) else { throw ConsoleError.invalid("not a session id") }
            _ = try await console.operations(context).revokeSession(id)
            return Self.redirect("users/" + Self.escapePath(login))
        },
        ConsolePage(.get, "roles") { console, _, context in try await console.roles(context) },
        ConsolePage(.post, "roles") { console, _, context in
            let parents = (context.field("parents") ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            _ = try await console.operations(context).createRole(
                name: try context.requiredField("name"),
                description: context.field("description") ?? "", parents: parents)
            return Self.redirect("roles")
        },
        ConsolePage(.post, "roles/:name/parents") { console, _, context in
            _ = try await console.operations(context).setRoleParent(
                role: try context.parameter("name"), parent: try context.requiredField("parent"),
                granted: context.field("grant") != "remove")
            return Self.redirect("roles")
        },
        ConsolePage(.post, "groups") { console, _, context in
            _ = try await console.operations(context).createGroup(
                name: try context.requiredField("name"),
                description: context.field("description") ?? "")
            return Self.redirect("roles")
        },
        ConsolePage(.get, "services") { console, request, context in try await console.services(request, context) },
        ConsolePage(.post, "services") { console, _, context in
            let roles = (context.field("roles") ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            let created = try await console.operations(context).createService(
                name: try context.requiredField("name"), owner: context.field("owner") ?? "", spiffeID: context.field("spiffe_id"), roles: roles)
            return Self.redirect("services/" + Self.escapePath(created.name))
        },
        ConsolePage(.get, "services/:name") { console, _, context in try await console.service(context, notice: [:]) },
        ConsolePage(.post, "services/:name/status") { console, _, context in
            let name = try context.parameter("name")
            _ = try await console.operations(context).setServiceStatus(name: name, try Self.status(context))
            return Self.redirect("services/" + Self.escapePath(name))
        },
        ConsolePage(.post, "services/:name/secrets") { console, _, context in
            let (secret, metadata) = try await console.operations(context).newServiceSecret(
                service: try context.parameter("name"), lifetime: nil, revokeOthers: context.field("revoke_others") != nil)
            return try await console.service(
                context,
                notice: [
                    "shown_once": secret, "shown_once_what": "client secret \(metadata.id.uuidString.lowercased())",
                ])
        },
        ConsolePage(.post, "services/:name/secrets/:id/revoke") { console, _, context in
            let name = try context.parameter("name")
            guard let id = UUID(uuidString: try context.parameter("id")) else { throw ConsoleError.invalid("not a secret id") }
            try await console.operations(context).revokeServiceSecret(service: name, secretID: id)
            return Self.redirect("services/" + Self.escapePath(name))
        },
        ConsolePage(.post, "services/:name/join-tokens") { console, _, context in
            guard let minutes = Int(context.field("minutes") ?? "10"), minutes > 0 else {
                throw ConsoleError.invalid("minutes must be a positive number")
            }
            let created = try await console.operations(context).newJoinToken(
                service: try context.parameter("name"), lifetime: TimeInterval(minutes * 60))
            return try await console.service(
                context,
                notice: [
                    "shown_once": created.token, "shown_once_what": "join token (single use, expires \(Self.time(created.expiresAt)))",
                ])
        },
        ConsolePage(.post, "certificates/:serial/revoke") { console, _, context in
            guard let reason = RevocationReason(rawValue: context.field("reason") ?? "unspecified") else {
                throw ConsoleError.invalid("unknown revocation reason")
            }
            _ = try await console.operations(context).revokeCertificate(serial: try context.parameter("serial"), reason: reason, expiresAt: nil)
            return Self.redirect(context.field("service").map { "services/" + Self.escapePath($0) } ?? "services")
        },
    ]

    // MARK: Users

    private func users(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let page = try await identity.store.listUsers(after: ConsoleContext.query(request, "after"), limit: 50)
        return render(
            .ok, "users",
            [
                "section": "users", "title": "Users", "users": page.items.map(Self.userValues), "next": page.next as Any,
            ], context)
    }

    /// Creates the account with a generated password, shown on the next page only.
    private func createUser(_ context: ConsoleContext) async throws -> Response {
        func list(_ name: String) -> [String] { (context.field(name) ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) }
        let password = AdminOperations.oneTimePassword()
        let user = try await operations(context).createUser(
            login: try context.requiredField("login"), email: try context.requiredField("email"), displayName: context.field("display_name") ?? "",
            password: password, oneTimePassword: true, roles: list("roles"), groups: list("groups"))
        return try await self.user(user.login, context, notice: ["shown_once": password, "shown_once_what": "one-time password for \(user.login)"])
    }

    private func user(_ login: String, _ context: ConsoleContext, notice: [String: Any]) async throws -> Response {
        let user = try await identity.store.requireUser(login: login)
        let sessions = try await identity.store.listSessions(login: user.login, after: nil, limit: 50).items
        var values: [String: Any] = [
            "section": "users", "title": "User \(user.login)", "user": Self.userValues(user),
            "identities": try await linkedIdentityValues(user),
            "sessions": sessions.map { session in
                [
                    "id": session.id.uuidString.lowercased(), "created_at": Self.time(session.createdAt),
                    "last_seen_at": Self.time(session.lastSeenAt),
                    "expires_at": Self.time(session.expiresAt), "client_address": session.clientAddress ?? "", "user_agent": session.userAgent,
                    "methods": session.authMethods.joined(separator: ", "), "revoked": session.revokedAt != nil,
                ] as [String: Any]
            },
        ]
        values.merge(notice) { $1 }
        return render(.ok, "user", values, context)
    }

    static func userValues(_ user: User) -> [String: Any] {
        [
            "login": user.login, "path": escapePath(user.login), "email": user.email, "display_name": user.displayName,
            "status": user.status.rawValue, "active": user.status == .active, "mfa": user.mfaEnrolled,
            "roles": user.roles, "groups": user.groups, "created_at": time(user.createdAt),
        ]
    }

    // MARK: Roles and groups

    private func roles(_ context: ConsoleContext) async throws -> Response {
        let roles = try await identity.store.listRoles()
        let groups = try await identity.store.listGroups()
        let children = Dictionary(grouping: roles.flatMap { role in role.parents.map { ($0, role.name) } }, by: \.0).mapValues {
            $0.map(\.1).sorted()
        }
        // The hierarchy as an indented outline from the roles without parents down.
        var outline: [[String: Any]] = []
        func walk(_ name: String, depth: Int, seen: Set<String>) {
            outline.append(["name": name, "indent": String(repeating: "\u{2003}", count: depth), "depth": depth])
            for child in children[name] ?? [] where !seen.contains(child) { walk(child, depth: depth + 1, seen: seen.union([child])) }
        }
        for root in roles.filter({ $0.parents.isEmpty }).map(\.name).sorted() { walk(root, depth: 0, seen: [root]) }
        return render(
            .ok, "roles",
            [
                "section": "roles", "title": "Roles and groups", "outline": outline,
                "roles": roles.map { ["name": $0.name, "description": $0.description, "parents": $0.parents] as [String: Any] },
                "groups": groups.map { ["name": $0.name, "description": $0.description] },
            ], context)
    }

    // MARK: Service accounts

    private func services(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let page = try await identity.store.listServices(after: ConsoleContext.query(request, "after"), limit: 50)
        return render(
            .ok, "services",
            [
                "section": "services", "title": "Service accounts", "next": page.next as Any,
                "services": page.items.map {
                    [
                        "name": $0.name, "path": Self.escapePath($0.name), "owner": $0.owner, "spiffe_id": $0.spiffeID ?? "",
                        "status": $0.status.rawValue, "roles": $0.roles,
                    ] as [String: Any]
                },
            ], context)
    }

    private func service(_ context: ConsoleContext, notice: [String: Any]) async throws -> Response {
        let account = try await identity.store.requireService(try context.parameter("name"))
        let secrets = try await identity.store.listServiceSecrets(service: account.name)
        let certificates = try await identity.store.issuedCertificates(service: account.name)
        let revoked = Set(try await identity.store.revokedCertificates().map(\.serialNumber.hex))
        var values: [String: Any] = [
            "section": "services", "title": "Service \(account.name)",
            "service": [
                "name": account.name, "path": Self.escapePath(account.name), "owner": account.owner, "spiffe_id": account.spiffeID ?? "",
                "status": account.status.rawValue, "active": account.status == .active, "roles": account.roles,
                "created_at": Self.time(account.createdAt),
            ] as [String: Any],
            "secrets": secrets.map {
                [
                    "id": $0.id.uuidString.lowercased(), "created_at": Self.time($0.createdAt),
                    "expires_at": Self.time($0.expiresAt), "revoked": $0.revokedAt != nil,
                ] as [String: Any]
            },
            "certificates": certificates.map {
                [
                    "serial": $0.serial, "spiffe_id": $0.spiffeID, "not_after": Self.time($0.notAfter),
                    "issued_at": Self.time($0.issuedAt), "method": $0.method,
                    "revoked": revoked.contains($0.serial),
                ] as [String: Any]
            },
            "reasons": RevocationReason.allCases.map(\.rawValue),
        ]
        values.merge(notice) { $1 }
        return render(.ok, "service", values, context)
    }

    // MARK: Helpers

    private static func status(_ context: ConsoleContext) throws(ConsoleError) -> AccountStatus {
        guard let status = context.field("status").flatMap(AccountStatus.init(rawValue:)) else {
            throw .invalid("status must be active, disabled or locked")
        }
        return status
    }

    /// A name as one path segment of a console URL.
    static func escapePath(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? name
    }
}
