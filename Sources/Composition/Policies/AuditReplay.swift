import AccessModel
import Audit
import Cedar
import Console
import Database
import Foundation
import Gateway
import Identity
import Logging
import PostgresNIO

/// Turns audit records back into requests for `policy explain --request-id` and `policy diff`.
///
/// The access record holds the principal, method, route, canonical path, authentication
/// method, client address and time. Everything else is looked up as it is now (roles, groups
/// and SPIFFE ID from the identity store, route labels from the configuration) or left at the
/// tools' defaults, and each such gap is named in `notes`.
struct AuditReplay {
    let identity: IdentityStore
    /// Route id → labels, as the gateway gives them to policies.
    let routes: [String: [String: String]]
    let hierarchy: RoleHierarchy
    /// Set when the identity store could not be read (e.g. no identity tables).
    let identityProblem: String?
    private var principals: [String: (PolicyRequest.Principal, [String])] = [:]

    static func open(client: PostgresClient, configuration: PortcullisConfiguration, logger: Logger) async -> AuditReplay {
        let identity = IdentityStore(client: client, logger: logger)
        var routes = Dictionary(configuration.gateway.routes.map { ($0.id, $0.labels) }, uniquingKeysWith: { first, _ in first })
        // The console is a route of every gateway that serves it, though not in the configuration.
        routes[AdminConsole.routeID] = AdminConsole.labels
        do {
            return AuditReplay(identity: identity, routes: routes, hierarchy: try await identity.hierarchy(), identityProblem: nil)
        } catch {
            return AuditReplay(identity: identity, routes: routes, hierarchy: .empty, identityProblem: "\(error)")
        }
    }

    private init(identity: IdentityStore, routes: [String: [String: String]], hierarchy: RoleHierarchy, identityProblem: String?) {
        self.identity = identity
        self.routes = routes
        self.hierarchy = hierarchy
        self.identityProblem = identityProblem
    }

    /// What every reconstructed request lacks, whatever the record.
    static let alwaysMissing = [
        "host, query, TLS version, certificate serial and fingerprint, MFA and authentication time are not in the audit record: "
            + "defaults were used (host localhost, empty query, TLSv1.3, no MFA)"
    ]

    /// The request an access record describes, and what of it could not be reconstructed.
    mutating func request(
        principal recorded: String, method: String, route: String, path: String, authMethod: String,
        clientAddress: String?, time: Date, grpc: Bool
    ) async -> (PolicyRequest?, [String]) {
        var notes: [String] = []
        guard let (principal, principalNotes) = await principal(recorded) else {
            return (nil, ["principal \(recorded) is not a User, Service or Anonymous entity: not replayable"])
        }
        notes += principalNotes
        guard PolicyRequest.methods.contains(method) else { return (nil, ["method \(method) is not in the request model: not replayable"]) }
        if route == SignInPages.auditRoute, let client = Self.signedInClient(path) {
            return await signIn(principal, client: client, authMethod: authMethod, clientAddress: clientAddress, time: time, notes: notes)
        }
        var request = PolicyRequest(principal: principal, method: method, route: route)
        request.path = path
        if grpc { request.grpc = GRPCMethod(path: path) }
        if let method = PolicyRequest.authMethod(named: authMethod) {
            request.authMethod = method
        } else {
            notes.append("authentication method \(authMethod) is not in the request model: the principal's usual one used")
        }
        request.now = time
        if let clientAddress { request.clientIP = clientAddress } else { notes.append("no client address recorded: 127.0.0.1 used") }
        if let labels = routes[route] {
            request.labels = labels
        } else {
            notes.append("route \(route) is not in the configuration: no labels")
        }
        return (request, notes)
    }

    /// The client of a recorded OpenID sign-in decision: its record's target is `Client::"<id>"`.
    static func signedInClient(_ target: String) -> String? {
        guard target.hasPrefix(#"Client::""#), target.hasSuffix(#"""#), target.count > 10 else { return nil }
        return String(target.dropFirst(9).dropLast())
    }

    /// `oidc.sign_in` on the client, with its labels as they are now.
    private func signIn(
        _ principal: PolicyRequest.Principal, client: String, authMethod: String, clientAddress: String?, time: Date, notes: [String]
    ) async -> (PolicyRequest?, [String]) {
        var notes = notes
        var request = PolicyRequest(principal: principal, method: "GET", route: client)
        request.signsInToClient = true
        request.path = "/.portcullis/oidc/authorize"
        request.authMethod = PolicyRequest.authMethod(named: authMethod) ?? .some(.session)
        request.now = time
        if let clientAddress { request.clientIP = clientAddress }
        do {
            if let registered = try await identity.openIDClient(client) {
                request.labels = registered.labels
                notes.append("client \(client): its labels as they are now")
            } else {
                notes.append("client \(client) no longer exists: no labels")
            }
        } catch {
            notes.append("client \(client): labels unreadable (\(error)): none used")
        }
        return (request, notes)
    }

    private mutating func principal(_ recorded: String) async -> (PolicyRequest.Principal, [String])? {
        if let known = principals[recorded] { return known }
        guard case .success(let uid) = parseEntityUID(recorded),
            let kind = PolicyRequest.PrincipalKind(rawValue: uid.type.name.string)
        else { return nil }
        var principal = PolicyRequest.Principal(kind: kind, id: uid.id.string)
        var notes: [String] = []
        if let identityProblem, kind != .anonymous {
            notes.append("roles of \(recorded) unknown (identity store unreadable: \(identityProblem))")
        } else {
            do {
                switch kind {
                case .user:
                    if let user = try await identity.user(login: principal.id) {
                        principal.roles = user.roles
                        principal.groups = user.groups
                        principal.email = user.email
                        principal.name = user.displayName
                        notes.append("roles and groups of \(recorded) are today's, not those at decision time")
                    } else {
                        notes.append("\(recorded) no longer exists in the identity store: no roles")
                    }
                case .service:
                    if let service = try await identity.service(principal.id) {
                        principal.roles = service.roles
                        principal.spiffeID = service.spiffeID
                        notes.append("roles and SPIFFE ID of \(recorded) are today's, not those at decision time")
                    } else {
                        notes.append("\(recorded) no longer exists in the identity store: no roles")
                    }
                case .anonymous:
                    break
                }
            } catch {
                notes.append("roles of \(recorded) unknown: \(error)")
            }
        }
        principals[recorded] = (principal, notes)
        return (principal, notes)
    }

    /// Runs `body` with a short-lived pool on the configured database.
    static func withDatabase<T: Sendable>(
        _ configuration: PortcullisConfiguration, logger: Logger, _ body: (PostgresClient) async throws -> T
    ) async throws -> T {
        let database = Database(url: try configuration.requireDatabaseURL(), pool: configuration.database.pool, logger: logger)
        return try await database.withRunning(logger: logger) { client in try await body(client) }
    }
}
