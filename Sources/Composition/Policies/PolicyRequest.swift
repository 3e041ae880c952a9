import AccessModel
import Cedar
import Foundation
import Tokens
import Yams

/// One gateway request as the policy tools (`policy test`, `explain`, `diff`) describe it: who,
/// which HTTP method on which route, and the request facts that make up the Cedar context.
/// `access` turns it into the `AccessRequest` the gateway would build, so a tested request is
/// decided exactly as the gateway would decide it. Unset fields take the defaults documented in
/// docs/policies.md and policies/tests/identity.yaml.
public struct PolicyRequest: Sendable {
    public enum PrincipalKind: String, Sendable, CaseIterable {
        case user = "User"
        case service = "Service"
        case anonymous = "Anonymous"
    }

    public struct Principal: Sendable {
        public var kind: PrincipalKind
        /// Login, service name, or `anonymous`.
        public var id: String
        /// Roles granted directly; parents come from the role hierarchy.
        public var roles: [String] = []
        /// Groups (users only).
        public var groups: [String] = []
        public var email: String?
        public var name: String?
        /// Services only; `""` when the service has no certificate binding.
        public var spiffeID: String?

        public init(kind: PrincipalKind, id: String) {
            self.kind = kind
            self.id = kind == .anonymous ? "anonymous" : id
        }

        public var uid: EntityUID { EntityUID(kind.rawValue, id) }

        var entity: Entity {
            switch kind {
            case .user: PrincipalEntity.user(login: id, email: email, name: name, roles: roles, groups: groups)
            case .service: PrincipalEntity.service(name: id, spiffeID: spiffeID, roles: roles)
            case .anonymous: PrincipalEntity.anonymous
            }
        }
    }

    /// The HTTP methods the request model knows (each an `Action` in `read` or `write`).
    public static let methods = ActionEntities.methods
    /// Decision time when none is given: Monday 2025-01-06 10:00 UTC, so time-based policies
    /// give the same answer on every run.
    public static let defaultNow = Date(timeIntervalSince1970: 1_736_157_600)

    public var principal: Principal
    /// The HTTP method; also `context.http.method`.
    public var method: String
    /// The resource id: a route, or with `signsInToClient` an OpenID client.
    public var route: String
    /// `oidc.sign_in` on `Client::"<route>"` rather than the method on `Route::"<route>"`.
    public var signsInToClient = false
    public var labels: [String: String] = [:]
    public var host = "localhost"
    public var path = "/"
    public var query = ""
    public var clientIP = "127.0.0.1"
    public var tlsVersion = "TLSv1.3"
    public var certificate: ClientCertificate?
    /// `context.auth.method` as given, `.some(nil)` being `none`; nil takes the principal's usual
    /// method: `none` for anonymous, `mtls` for a service with a SPIFFE ID, else `token`.
    public var authMethod: AuthMethod??
    public var mfa = false
    public var authenticatedAt: Date?
    /// `context.auth.provider`: the identity provider a session was opened with.
    public var identityProvider: String?
    public var now = PolicyRequest.defaultNow
    public var device: AccessRequest.Device?
    /// `context.grpc`: the gRPC method a gRPC call invokes (its path is `/<service>/<method>`).
    public var grpc: GRPCMethod?

    public init(principal: Principal, method: String, route: String) {
        self.principal = principal
        self.method = method
        self.route = route
    }

    /// The authentication method the context shows; nil for `none`.
    public var effectiveAuthMethod: AuthMethod? {
        if let authMethod { return authMethod }
        switch principal.kind {
        case .anonymous: return nil
        case .service: return (principal.spiffeID ?? "").isEmpty ? .token : .mtls
        case .user: return .token
        }
    }

    /// `mtls`, `token`, `session` or `none`: how reports and `context.auth.method` name it.
    public var effectiveAuthMethodName: String { effectiveAuthMethod?.rawValue ?? AuthMethod.noneLabel }

    /// Reads a method name as the context spells it: `.some(nil)` for `none`, nil when unknown.
    public static func authMethod(named name: String) -> AuthMethod?? {
        name == AuthMethod.noneLabel ? .some(nil) : AuthMethod(rawValue: name).map { .some($0) }
    }

    /// The client certificate the context shows: the one given, else for mTLS the service's
    /// SPIFFE ID with placeholder serial `00` and empty fingerprint.
    public var effectiveCertificate: ClientCertificate? {
        if let certificate { return certificate }
        guard effectiveAuthMethod == .mtls else { return nil }
        return ClientCertificate(spiffeID: principal.spiffeID, serial: "00", sha256: "")
    }

    /// The request as the gateway would build it.
    public var access: AccessRequest {
        AccessRequest(
            principal: principal.entity, method: method,
            route: signsInToClient ? .client(id: route, labels: labels) : RouteEntity(id: route, labels: labels), host: host, path: path,
            query: query, clientAddress: clientIP, tlsVersion: tlsVersion, certificate: effectiveCertificate,
            authMethod: effectiveAuthMethod, mfa: mfa, authenticatedAt: authenticatedAt, identityProvider: identityProvider, now: now,
            device: device, grpc: grpc)
    }

    /// The request as the gateway would build it, with its action.
    private var actionRequest: AccessRequest {
        var request = access
        if signsInToClient { request.action = ActionEntities.openIDSignIn }
        return request
    }

    /// The Cedar request and entity store the gateway would build for this request.
    public func cedar(hierarchy: RoleHierarchy) throws(PolicyToolError) -> (request: Cedar.Request, entities: Entities) {
        do {
            return try actionRequest.cedar(hierarchy: hierarchy)
        } catch {
            throw .inconsistentRequest("\(principal.uid) on \(resourceName): \(error)")
        }
    }

    /// One line for reports: `GET /v1/admin/users on Route::"identity" (token, mfa)`.
    public var summary: String {
        var facts = [effectiveAuthMethodName]
        if mfa { facts.append("mfa") }
        if signsInToClient { return "\(ActionEntities.openIDSignIn) on \(resourceName) (\(facts.joined(separator: ", ")))" }
        if grpc != nil { facts.insert("gRPC", at: 0) }
        return "\(method) \(path)\(query.isEmpty ? "" : "?" + query) on \(resourceName) (\(facts.joined(separator: ", ")))"
    }

    /// `Route::"<id>"` or `Client::"<id>"`.
    public var resourceName: String { (signsInToClient ? "Client" : "Route") + "::\"\(route)\"" }
}

// MARK: Reading requests from YAML or JSON

/// A request document: a request (`principal`, `action`, `resource`, `context`) plus, for
/// `explain` and `diff --requests`, the role hierarchy it needs (`role_parents`).
struct RequestDocument {
    var request: PolicyRequest
    var hierarchy: RoleHierarchy
}

enum PolicyRequestReader {
    /// Parses YAML (JSON is accepted: it is YAML) into its root node; errors carry file:line:column.
    static func compose(_ text: String, file: String) throws(PolicyToolError) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                throw .invalidFile(.syntax(Composition.SourceLocation(file: file, line: mark.line, column: mark.column), problem))
            default:
                throw .invalidFile(.syntax(Composition.SourceLocation(file: file, line: 1, column: 1), "\(error)"))
            }
        } catch {
            throw .invalidFile(.syntax(Composition.SourceLocation(file: file, line: 1, column: 1), "\(error)"))
        }
    }

    /// `role_parents: {dispatcher: [staff], staff: []}`: the hierarchy the identity service holds.
    static func hierarchy(_ reader: inout MappingReader) throws(ConfigurationError) -> RoleHierarchy {
        guard var parents = try reader.mapping("role_parents") else { return .empty }
        var result: [String: [String]] = [:]
        for key in parents.keys { result[key] = try parents.strings(key) ?? [] }
        try parents.finish()
        return RoleHierarchy(parents: result, groups: [])
    }

    /// Reads `principal`, `action`, `resource` and `context` from a case mapping; the caller
    /// reads its other keys and calls `finish()`.
    static func request(_ reader: inout MappingReader) throws(ConfigurationError) -> PolicyRequest {
        guard var p = try reader.mapping("principal") else {
            throw reader.missing("principal", hint: "e.g. {type: User, id: dana, roles: [dispatcher]}")
        }
        let kind = try p.choice("type", of: PolicyRequest.PrincipalKind.self) ?? .user
        let id = try p.string("id")
        guard kind == .anonymous || id != nil else { throw p.missing("id", hint: "the login or service name") }
        var principal = PolicyRequest.Principal(kind: kind, id: id ?? "anonymous")
        if kind != .anonymous { principal.roles = try p.strings("roles") ?? [] }
        switch kind {
        case .user:
            principal.groups = try p.strings("groups") ?? []
            principal.email = try p.string("email")
            principal.name = try p.string("name")
        case .service:
            principal.spiffeID = try p.string("spiffe_id")
        case .anonymous:
            break
        }
        try p.finish()

        let methodLocation = reader.location(of: "action")
        guard let action = try reader.string("action") else { throw reader.missing("action", hint: "an HTTP method such as GET") }
        let signsIn = action == ActionEntities.openIDSignIn
        guard signsIn || PolicyRequest.methods.contains(action) else {
            throw .invalidValue(
                methodLocation, path: reader.join("action"),
                reason: "'\(action)' is not one of \((PolicyRequest.methods + [ActionEntities.openIDSignIn]).joined(separator: ", "))")
        }
        guard var r = try reader.mapping("resource") else { throw reader.missing("resource", hint: "e.g. {route: shipments}") }
        let resourceKey = signsIn ? "client" : "route"
        guard let route = try r.string(resourceKey) else {
            throw r.missing(resourceKey, hint: signsIn ? "the client id (Client::\"<id>\")" : "the route id (Route::\"<id>\")")
        }
        var request = PolicyRequest(principal: principal, method: signsIn ? "GET" : action, route: route)
        request.signsInToClient = signsIn
        if signsIn { request.path = "/.portcullis/oidc/authorize" }
        if var labels = try r.mapping("labels") { request.labels = try labels.stringValues() }
        try r.finish()

        guard var context = try reader.mapping("context") else { return request }
        let grpcLocation = context.location(of: "grpc")
        if var grpc = try context.mapping("grpc") {
            guard let service = try grpc.string("service") else { throw grpc.missing("service", hint: "e.g. logistics.fleet.v1.Positions") }
            guard let method = try grpc.string("method") else { throw grpc.missing("method", hint: "e.g. Watch") }
            try grpc.finish()
            guard action == "POST" else {
                throw .invalidValue(grpcLocation, path: context.join("grpc"), reason: "a gRPC call is a POST, not \(action)")
            }
            request.grpc = GRPCMethod(service: service, method: method)
            request.path = "/\(service)/\(method)"
        }
        if var http = try context.mapping("http") {
            request.host = try http.string("host") ?? request.host
            let pathLocation = http.location(of: "path")
            request.path = try http.string("path") ?? request.path
            if let grpc = request.grpc, request.path != grpc.path {
                throw .invalidValue(
                    pathLocation, path: http.join("path"), reason: "a call of \(grpc.service)/\(grpc.method) has the path \(grpc.path)")
            }
            request.query = try http.string("query") ?? request.query
            try http.finish()
        }
        if var client = try context.mapping("client") {
            request.clientIP = try client.string("ip") ?? request.clientIP
            request.tlsVersion = try client.string("tls_version") ?? request.tlsVersion
            try client.finish()
        }
        if var cert = try context.mapping("cert") {
            request.certificate = ClientCertificate(
                spiffeID: try cert.string("spiffe_id"), serial: try cert.string("serial") ?? "00",
                sha256: try cert.string("sha256") ?? "")
            try cert.finish()
        }
        if var auth = try context.mapping("auth") {
            let methodLocation = auth.location(of: "method")
            if let name = try auth.string("method") {
                guard let method = PolicyRequest.authMethod(named: name) else {
                    throw .invalidValue(
                        methodLocation, path: auth.join("method"),
                        reason: "'\(name)' is not one of mtls, token, session, none")
                }
                request.authMethod = method
            }
            request.mfa = try auth.boolean("mfa") ?? request.mfa
            request.authenticatedAt = try auth.parsed("authenticated_at", expected: "an RFC 3339 time", RFC3339.date(from:))
            request.identityProvider = try auth.string("provider")
            try auth.finish()
        }
        if var time = try context.mapping("time") {
            request.now = try time.parsed("now", expected: "an RFC 3339 time", RFC3339.date(from:)) ?? request.now
            try time.finish()
        }
        if var device = try context.mapping("device") {
            request.device = AccessRequest.Device(managed: try device.boolean("managed") ?? false, id: try device.string("id") ?? "")
            try device.finish()
        }
        try context.finish()
        return request
    }

    /// A whole request document (a file for `explain --request`, a line for `diff --requests`).
    static func document(_ node: Node, file: String, path: String = "") throws(ConfigurationError) -> RequestDocument {
        var reader = try MappingReader(node, path: path, file: file)
        let hierarchy = try hierarchy(&reader)
        let request = try request(&reader)
        // Test-case keys are allowed so a failing test case can be pasted into `explain` as is.
        _ = try reader.string("name")
        _ = try reader.string("expect")
        _ = try reader.strings("policies")
        try reader.finish()
        return RequestDocument(request: request, hierarchy: hierarchy)
    }
}
