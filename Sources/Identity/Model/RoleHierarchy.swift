import Foundation
import Cedar

/// The role graph and group list as one immutable snapshot: what the gateway needs to turn a
/// token's direct roles into Cedar parents without a query per request.
public struct RoleHierarchy: Sendable, Equatable {
    /// Each role's direct parents.
    public let parents: [String: [String]]
    public let groups: Set<String>
    /// Roles, groups and the action hierarchy as one entity store with its closure computed, to
    /// which each request adds only its principal and resource (`Entities.withLeaves`). A
    /// failure (a cycle, which the store refuses to record) is kept and refuses every decision.
    public let entities: Result<Entities, InputError>

    public init(roles: [Role], groups: [String]) {
        var parents: [String: [String]] = [:]
        for role in roles { parents[role.name] = role.parents }
        self.init(parents: parents, groups: groups)
    }

    public static func == (left: RoleHierarchy, right: RoleHierarchy) -> Bool {
        left.parents == right.parents && left.groups == right.groups
    }

    /// From role names to their direct parent roles, as a policy test file writes the hierarchy.
    public init(parents: [String: [String]], groups: [String]) {
        self.parents = parents
        self.groups = Set(groups)
        let entities = Self.cedarEntities(parents: parents, groups: self.groups) + PrincipalEntity.actions
        self.entities = Result { () throws(InputError) in try Entities(entities) }
    }

    public static let empty = RoleHierarchy(roles: [], groups: [])

    /// Cedar entities for every role (with its parent roles) and group, so that
    /// `principal in Role::"staff"` follows the hierarchy.
    private static func cedarEntities(parents: [String: [String]], groups: Set<String>) -> [Entity] {
        let roles = parents.keys.sorted().map { name in
            Entity(uid: EntityUID("Role", name), parents: (parents[name] ?? []).map { EntityUID("Role", $0) })
        }
        return roles + groups.sorted().map { Entity(uid: EntityUID("Group", $0)) }
    }
}

/// The principal side of Portcullis's Cedar request model (see `docs/policy-model.md`),
/// shared by the gateway and the identity admin API so both build principals the same way.
public enum PrincipalEntity {
    /// `User::"<login>"` with attributes id (the login) and, when known, email and name; parents:
    /// its roles and groups.
    public static func user(login: String, email: String? = nil, name: String? = nil, roles: [String], groups: [String]) -> Entity {
        var attributes: [CedarString: Value] = ["id": .string(CedarString(login))]
        if let email { attributes["email"] = .string(CedarString(email)) }
        if let name { attributes["name"] = .string(CedarString(name)) }
        return Entity(uid: EntityUID("User", login), attributes: attributes,
                      parents: roles.map { EntityUID("Role", $0) } + groups.map { EntityUID("Group", $0) })
    }

    /// `Service::"<name>"` with attribute spiffe_id and parents: its roles.
    public static func service(name: String, spiffeID: String?, roles: [String]) -> Entity {
        Entity(uid: EntityUID("Service", name), attributes: ["spiffe_id": .string(CedarString(spiffeID ?? ""))],
               parents: roles.map { EntityUID("Role", $0) })
    }

    /// `Anonymous::"anonymous"`: a request without credentials.
    public static let anonymous = Entity(uid: EntityUID("Anonymous", "anonymous"))

    /// `Action::"GET"` … each a member of `Action::"read"` or `Action::"write"`.
    public static let actions: [Entity] = {
        let groups = ["read": ["GET", "HEAD", "OPTIONS"], "write": ["POST", "PUT", "PATCH", "DELETE"]]
        var entities = groups.keys.sorted().map { Entity(uid: EntityUID("Action", $0)) }
        for (group, methods) in groups.sorted(by: { $0.key < $1.key }) {
            entities += methods.map { Entity(uid: EntityUID("Action", $0), parents: [EntityUID("Action", group)]) }
        }
        return entities
    }()
}

/// The entities of one request: the principal, the route (its labels as tags), the role
/// hierarchy and the actions. The gateway, the admin API and the policy tools (`policy test`,
/// `explain`, `diff`) all build them here, so a tested request is the request the gateway decides.
public enum RequestEntities {
    /// `Route::"<id>"` with the route's labels as tags.
    public static func route(id: String, labels: [String: String] = [:]) -> Entity {
        Entity(uid: EntityUID("Route", id), tags: labels.reduce(into: [:]) { $0[CedarString($1.key)] = .string(CedarString($1.value)) })
    }

    /// The entity store for one decision; fails only when the principal or route collides with
    /// a hierarchy entity (e.g. a principal named like a role with different parents).
    public static func store(principal: Entity, route: Entity, hierarchy: RoleHierarchy) throws(InputError) -> Entities {
        try hierarchy.entities.get().withLeaves([principal, route])
    }
}

/// The context side of the request model: the same record shape (`http`, `client`, `cert`,
/// `auth`, `time`) for gateway requests and admin-API requests, as `policies/schema.cedarschema`
/// declares it.
public enum AccessContext {
    /// A client certificate as the context shows it.
    public struct Certificate: Sendable {
        public var spiffeID: String?
        public var serial: String
        public var sha256: String

        /// `<id>` of a device certificate, whose SPIFFE ID is `spiffe://<trust domain>/device/<id>`;
        /// nil for workload certificates.
        public var deviceID: String? {
            guard let spiffeID, spiffeID.hasPrefix("spiffe://"),
                  let marker = spiffeID.dropFirst("spiffe://".count).firstIndex(of: "/") else { return nil }
            let path = spiffeID[marker...]
            guard path.hasPrefix("/device/") else { return nil }
            let id = path.dropFirst("/device/".count)
            return id.isEmpty || id.contains("/") ? nil : String(id)
        }

        public init(spiffeID: String?, serial: String, sha256: String) {
            self.spiffeID = spiffeID
            self.serial = serial
            self.sha256 = sha256
        }
    }

    /// A device (`context.device`): the gateway fills it from a device certificate that
    /// accompanies a browser session (`Certificate.deviceID`); the policy tools from a test case.
    public struct Device: Sendable {
        public var managed: Bool
        public var id: String

        public init(managed: Bool, id: String) {
            self.managed = managed
            self.id = id
        }
    }

    public static func make(method: String, host: String, path: String, query: String?, clientAddress: String, tlsVersion: String,
                            certificate: Certificate?, authMethod: String, mfa: Bool, authenticatedAt: Date?,
                            now: Date, device: Device? = nil) -> [CedarString: Value] {
        func string(_ text: String) -> Value { .string(CedarString(text)) }
        func datetime(_ date: Date) -> Value {
            .datetime(CedarDatetime(epochMilliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down))))
        }
        let seconds = Int64(now.timeIntervalSince1970.rounded(.down))
        // 1970-01-01 was a Thursday; weekday counts Monday = 1 … Sunday = 7 (ISO 8601), in UTC.
        let weekday = ((seconds / 86_400) + 3) % 7 + 1
        var client: [CedarString: Value] = ["tls_version": string(tlsVersion)]
        if case let .success(address) = IPAddress.parse(clientAddress) { client["ip"] = .ipaddr(address) }
        var cert: [CedarString: Value] = ["present": .bool(certificate != nil)]
        if let certificate {
            cert["serial"] = string(certificate.serial)
            cert["sha256"] = string(certificate.sha256)
            if let spiffeID = certificate.spiffeID { cert["spiffe_id"] = string(spiffeID) }
        }
        var auth: [CedarString: Value] = ["method": string(authMethod), "mfa": .bool(mfa)]
        if let authenticatedAt { auth["authenticated_at"] = datetime(authenticatedAt) }
        var context: [CedarString: Value] = [
            "http": .record(["method": string(method), "host": string(host), "path": string(path),
                             "lowercased_path": string(asciiLowercased(path)), "query": string(query ?? "")]),
            "client": .record(client),
            "cert": .record(cert),
            "auth": .record(auth),
            "time": .record(["now": datetime(now), "hour": .long((seconds % 86_400) / 3600), "weekday": .long(weekday)]),
        ]
        if let device { context["device"] = .record(["managed": .bool(device.managed), "id": string(device.id)]) }
        return context
    }

    /// `context.http.lowercased_path`: the path with `A`–`Z` lowered, for rules that must also
    /// hold against upstreams that ignore case (`/v1/ADMIN`). Only ASCII, so the result is
    /// exact and the same everywhere; a path without capitals is returned as it is, without
    /// a copy.
    static func asciiLowercased(_ path: String) -> String {
        func isCapital(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }
        guard path.utf8.contains(where: isCapital) else { return path }
        return String(decoding: path.utf8.map { isCapital($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
