import AccessModel
import Audit
import Cedar
import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird
import NIOCore
import PolicyStore

/// `/v1/admin/…`: users, roles, groups, service accounts, sessions, the audit trail and policy
/// versions (`AdminPolicyAPI.swift`).
///
/// Authorized with Cedar like every other route: the caller's bearer token is verified, its
/// account re-read from the database (a disabled admin is refused at once), and the request is
/// decided as `principal = User::"<login>"`, `action = Action::"<METHOD>"`,
/// `resource = Route::"<adminRoute>"`. With no policy loaded, everything is denied.
/// Every change goes through `AdminOperations`, which records it with a before/after summary.
struct AdminAPI: Sendable {
    let service: IdentityService
    let policies: @Sendable () -> PolicySnapshot?
    let policyVersions: PolicyVersions
    let workbench: any PolicyWorkbench
    static let pageLimit = 100

    var store: IdentityStore { service.store }

    func register(on router: Router<IdentityRequestContext>) {
        let group = router.group("/v1/admin")
        route(group, .get, "users") { request, _, _ in
            let (after, limit) = try Self.pagination(request)
            return JSONResponse.make(.ok, try await store.listUsers(after: after, limit: limit))
        }
        route(group, .post, "users") { request, context, actor in try await createUser(request, context, actor) }
        route(group, .get, "users/:login") { _, context, _ in
            JSONResponse.make(.ok, try await store.requireUser(login: try Self.parameter(context, "login")))
        }
        route(group, .patch, "users/:login") { request, context, actor in try await updateUser(request, context, actor) }
        route(group, .post, "users/:login/mfa-reset") { _, context, actor in
            JSONResponse.make(.ok, try await operations(actor).resetMFA(login: try Self.parameter(context, "login")))
        }
        route(group, .post, "users/:login/unlock") { _, context, actor in
            try await operations(actor).unlock(login: try Self.parameter(context, "login"))
            return Response(status: .noContent)
        }
        for membership in [Membership.role, .group] {
            for granted in [true, false] {
                route(group, granted ? .put : .delete, "users/:login/\(membership.rawValue)s/:name") { _, context, actor in
                    JSONResponse.make(
                        .ok,
                        try await operations(actor).setMembership(
                            login: try Self.parameter(context, "login"), membership, name: try Self.parameter(context, "name"), granted: granted))
                }
            }
        }

        route(group, .get, "roles") { _, _, _ in JSONResponse.make(.ok, ["items": try await store.listRoles()]) }
        route(group, .post, "roles") { request, context, actor in
            var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
            let nameInput = body.requiredString("name")
            let name = body.check { () throws(IdentityError) in try Names.identifier(nameInput, field: "name") }
            let descriptionInput = body.string("description") ?? ""
            let description = body.check { () throws(IdentityError) in try Names.text(descriptionInput, field: "description") }
            let parents = body.strings("parents")
            let checkedParents = parents.compactMap { parent in
                body.check { () throws(IdentityError) in try Names.identifier(parent, field: "parents") }
            }
            try body.finish()
            return JSONResponse.make(
                .created, try await operations(actor).createRole(name: name!, description: description!, parents: checkedParents))
        }
        route(group, .get, "roles/:name") { _, context, _ in
            JSONResponse.make(.ok, try await store.requireRole(try Self.parameter(context, "name")))
        }
        for granted in [true, false] {
            route(group, granted ? .put : .delete, "roles/:name/parents/:parent") { _, context, actor in
                JSONResponse.make(
                    .ok,
                    try await operations(actor).setRoleParent(
                        role: try Self.parameter(context, "name"), parent: try Self.parameter(context, "parent"), granted: granted))
            }
        }

        route(group, .get, "groups") { _, _, _ in JSONResponse.make(.ok, ["items": try await store.listGroups()]) }
        route(group, .post, "groups") { request, context, actor in
            var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
            let nameInput = body.requiredString("name")
            let name = body.check { () throws(IdentityError) in try Names.identifier(nameInput, field: "name") }
            let descriptionInput = body.string("description") ?? ""
            let description = body.check { () throws(IdentityError) in try Names.text(descriptionInput, field: "description") }
            try body.finish()
            return JSONResponse.make(.created, try await operations(actor).createGroup(name: name!, description: description!))
        }

        registerOpenIDClients(on: group)

        route(group, .get, "services") { request, _, _ in
            let (after, limit) = try Self.pagination(request)
            return JSONResponse.make(.ok, try await store.listServices(after: after, limit: limit))
        }
        route(group, .post, "services") { request, context, actor in try await createService(request, context, actor) }
        route(group, .get, "services/:name") { _, context, _ in
            JSONResponse.make(.ok, try await store.requireService(try Self.parameter(context, "name")))
        }
        route(group, .patch, "services/:name") { request, context, actor in
            let name = try Self.parameter(context, "name")
            var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
            let statusInput = body.requiredString("status")
            let status = body.check { () throws(IdentityError) in try Self.status(statusInput) }
            try body.finish()
            return JSONResponse.make(.ok, try await operations(actor).setServiceStatus(name: name, status!))
        }
        for granted in [true, false] {
            route(group, granted ? .put : .delete, "services/:name/roles/:role") { _, context, actor in
                JSONResponse.make(
                    .ok,
                    try await operations(actor).setServiceRole(
                        name: try Self.parameter(context, "name"), role: try Self.parameter(context, "role"), granted: granted))
            }
        }
        route(group, .get, "services/:name/secrets") { _, context, _ in
            JSONResponse.make(.ok, ["items": try await store.listServiceSecrets(service: try Self.parameter(context, "name"))])
        }
        route(group, .post, "services/:name/secrets") { request, context, actor in
            let name = try Self.parameter(context, "name")
            var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
            let lifetime = body.seconds("lifetime_seconds")
            let revokeOthers = body.bool("revoke_others") ?? false
            try body.finish()
            let (secret, metadata) = try await operations(actor).newServiceSecret(service: name, lifetime: lifetime, revokeOthers: revokeOthers)
            struct Created: Encodable {
                var secret: String
                var metadata: ServiceSecret
            }
            return JSONResponse.make(.created, Created(secret: secret, metadata: metadata))
        }
        route(group, .delete, "services/:name/secrets/:id") { _, context, actor in
            let name = try Self.parameter(context, "name")
            guard let id = UUID(uuidString: try Self.parameter(context, "id")) else { throw IdentityError.invalid("id", "expected a UUID") }
            try await operations(actor).revokeServiceSecret(service: name, secretID: id)
            return Response(status: .noContent)
        }

        route(group, .get, "audit") { request, _, _ in try await auditSearch(request) }
        route(group, .get, "sessions") { request, _, _ in
            let (after, limit) = try Self.pagination(request)
            let login = request.uri.queryParameters["login"].map(String.init)
            var cursor: UUID?
            if let after {
                guard let id = UUID(uuidString: after) else { throw IdentityError.invalid("after", "expected a session id") }
                cursor = id
            }
            return JSONResponse.make(.ok, try await store.listSessions(login: login, after: cursor, limit: limit))
        }
        registerPolicies(on: group)
        route(group, .delete, "sessions/:id") { _, context, actor in
            guard let id = UUID(uuidString: try Self.parameter(context, "id")) else { throw IdentityError.invalid("id", "expected a session id") }
            return JSONResponse.make(.ok, try await operations(actor).revokeSession(id))
        }
    }

    // MARK: Handlers with bodies

    private func createUser(_ request: Request, _ context: IdentityRequestContext, _ actor: AdminActor) async throws(IdentityError) -> Response {
        var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
        let loginInput = body.requiredString("login")
        let login = body.check { () throws(IdentityError) in try Names.login(loginInput) }
        let emailInput = body.requiredString("email")
        let email = body.check { () throws(IdentityError) in try Names.email(emailInput) }
        let nameInput = body.string("display_name") ?? ""
        let name = body.check { () throws(IdentityError) in try Names.text(nameInput, field: "display_name") }
        let password = body.string("password")
        if let password { _ = body.check { () throws(IdentityError) in try Names.password(password) } }
        let oneTime = body.bool("one_time_password") ?? false
        let roles = body.strings("roles").compactMap { role in body.check { () throws(IdentityError) in try Names.identifier(role, field: "roles") } }
        let groups = body.strings("groups").compactMap { group in
            body.check { () throws(IdentityError) in try Names.identifier(group, field: "groups") }
        }
        try body.finish()
        return JSONResponse.make(
            .created,
            try await operations(actor).createUser(
                login: login!, email: email!, displayName: name!,
                password: password, oneTimePassword: oneTime, roles: roles, groups: groups))
    }

    private func updateUser(_ request: Request, _ context: IdentityRequestContext, _ actor: AdminActor) async throws(IdentityError) -> Response {
        let login = try Self.parameter(context, "login")
        var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
        let email = body.string("email").flatMap { value in body.check { () throws(IdentityError) in try Names.email(value) } }
        let name = body.string("display_name").flatMap { value in
            body.check { () throws(IdentityError) in try Names.text(value, field: "display_name") }
        }
        let status = body.string("status").flatMap { value in body.check { () throws(IdentityError) in try Self.status(value) } }
        let password = body.string("password")
        if let password { _ = body.check { () throws(IdentityError) in try Names.password(password) } }
        let oneTime = body.bool("one_time_password") ?? false
        try body.finish()
        return JSONResponse.make(
            .ok,
            try await operations(actor).updateUser(
                login: login, email: email, displayName: name, status: status,
                password: password, oneTimePassword: oneTime))
    }

    private func createService(_ request: Request, _ context: IdentityRequestContext, _ actor: AdminActor) async throws(IdentityError) -> Response {
        var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
        let nameInput = body.requiredString("name")
        let name = body.check { () throws(IdentityError) in try Names.identifier(nameInput, field: "name") }
        let ownerInput = body.string("owner") ?? ""
        let owner = body.check { () throws(IdentityError) in try Names.text(ownerInput, field: "owner") }
        let spiffe = body.string("spiffe_id").flatMap { value in body.check { () throws(IdentityError) in try Names.spiffeID(value) } }
        let roles = body.strings("roles").compactMap { role in body.check { () throws(IdentityError) in try Names.identifier(role, field: "roles") } }
        try body.finish()
        return JSONResponse.make(.created, try await operations(actor).createService(name: name!, owner: owner!, spiffeID: spiffe, roles: roles))
    }

    /// `GET /v1/admin/audit?principal=&route=&decision=&request_id=&since=&until=&limit=&after=`:
    /// newest first, one JSON object per line in the export schema (`AuditExportFormat`, v1) with
    /// its `chain` as of the last verification, and the cursor for the next page in the
    /// `X-Next-Cursor` header.
    private func auditSearch(_ request: Request) async throws -> Response {
        let parameters = request.uri.queryParameters
        func text(_ name: String) -> String? { parameters[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 } }
        func time(_ name: String) throws(IdentityError) -> Date? {
            guard let raw = text(name) else { return nil }
            guard let date = ISO8601DateFormatter().date(from: raw) else {
                throw .invalid(name, "expected an RFC 3339 time such as 2026-11-24T08:00:00Z")
            }
            return date
        }
        var limit = 100
        if let raw = text("limit") {
            guard let value = Int(raw), (1...1000).contains(value) else { throw IdentityError.invalid("limit", "expected a number from 1 to 1000") }
            limit = value
        }
        var after: AuditQuery.Cursor?
        if let raw = text("after") {
            guard let cursor = AuditQuery.Cursor(raw) else { throw IdentityError.invalid("after", "expected a cursor from X-Next-Cursor") }
            after = cursor
        }
        let query = AuditQuery(
            principal: text("principal"), route: text("route"), outcome: text("decision"), requestID: text("request_id"),
            since: try time("since"), until: try time("until"), after: after, limit: limit)
        let audit = AuditStore(client: store.client, logger: store.logger)
        let records = try await audit.search(query)
        let verification = try await audit.latestVerification(masterKey: service.masterKey)
        let body = records.map { AuditExportFormat.jsonl.line($0, chain: verification.status(of: $0)) + "\n" }.joined()
        var headers: HTTPFields = [.contentType: "application/x-ndjson", .cacheControl: "no-store"]
        if records.count == limit, let last = records.last {
            headers[HTTPField.Name("X-Next-Cursor")!] = AuditQuery.Cursor(timeMicros: last.event.timeMicros, id: last.event.id).description
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    // MARK: Authorization

    func route(
        _ group: RouterGroup<IdentityRequestContext>, _ method: HTTPRequest.Method, _ path: RouterPath,
        _ body: @escaping @Sendable (Request, IdentityRequestContext, AdminActor) async throws -> Response
    ) {
        group.on(path, method: method) { request, context in
            await handle {
                let actor = try await authorize(request, context)
                return try await body(request, context, actor)
            }
        }
    }

    private func authorize(_ request: Request, _ context: IdentityRequestContext) async throws(IdentityError) -> AdminActor {
        let (claims, user, serviceAccount) = try await service.authenticate(request)
        let principal: Entity
        if let user {
            principal = PrincipalEntity.user(login: user.login, email: user.email, name: user.displayName, roles: user.roles, groups: user.groups)
        } else if let serviceAccount {
            principal = PrincipalEntity.service(name: serviceAccount.name, spiffeID: serviceAccount.spiffeID, roles: serviceAccount.roles)
        } else {
            throw .unauthenticated("unknown principal")
        }
        guard let policies = policies() else { throw .forbidden("no policy is loaded; every admin request is denied") }
        let hierarchy = try await store.hierarchy()
        let clientAddress = context.clientInfo(request, settings: service.settings).address
        // Decided on the canonical path, as the gateway decides its routes: `/v1/admin/%75sers`
        // and `/v1/admin/./users` are `/v1/admin/users` to a policy too, or refused.
        let path: String
        do {
            path = try RequestCanonicalizer.canonicalPath(request.uri.path)
        } catch {
            throw .invalid("path", error.description)
        }
        let access = AccessRequest(
            principal: principal, method: request.method.rawValue, route: RouteEntity(id: service.settings.adminRoute),
            host: request.head.authority ?? "", path: path, query: request.uri.query ?? "", clientAddress: clientAddress,
            tlsVersion: "none", authMethod: .token, mfa: claims.mfaTime != nil, authenticatedAt: claims.mfaTime ?? claims.issuedAt, now: Date())
        let decision = policies.decide(access, hierarchy: hierarchy)
        let actor = AdminActor(
            principal: principal.uid.description, authMethod: AuthMethod.token.rawValue, route: service.settings.adminRoute,
            policies: decision.policies, policyVersion: policies.version)
        guard decision.allowed else {
            service.recorder.record(
                AuditEvent(
                    kind: .admin, principal: actor.principal, authMethod: actor.authMethod, action: "\(request.method.rawValue) \(path)",
                    route: service.settings.adminRoute, target: path, clientAddress: clientAddress,
                    outcome: "deny", policies: decision.policies, policyVersion: policies.version))
            throw .forbidden("policy denies \(principal.uid) \(request.method.rawValue) on the admin API")
        }
        return actor
    }

    /// The identity changes, made and recorded as `actor`.
    func operations(_ actor: AdminActor) -> AdminOperations { AdminOperations(service: service, actor: actor) }

    func record(
        _ actor: AdminActor, _ action: String, target: String, before: (any Encodable)?, after: (any Encodable)?,
        outcome: String = "applied"
    ) {
        operations(actor).record(action, target: target, before: before, after: after, outcome: outcome)
    }

    // MARK: Input helpers

    static func parameter(_ context: IdentityRequestContext, _ name: String) throws(IdentityError) -> String {
        guard let value = context.parameters.get(name) else { throw .invalid(name, "is required") }
        return value.lowercased()
    }

    private static func status(_ raw: String) throws(IdentityError) -> AccountStatus {
        guard let status = AccountStatus(rawValue: raw) else { throw .invalid("status", "expected active, disabled or locked") }
        return status
    }

    private static func pagination(_ request: Request) throws(IdentityError) -> (after: String?, limit: Int) {
        let query = request.uri.queryParameters
        var limit = 50
        if let raw = query["limit"] {
            guard let value = Int(String(raw)), (1...pageLimit).contains(value) else {
                throw .invalid("limit", "expected a number from 1 to \(pageLimit)")
            }
            limit = value
        }
        return (query["after"].map { String($0).lowercased() }, limit)
    }
}
