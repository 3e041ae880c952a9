import Cedar

/// The role graph and group list as one immutable snapshot: what the gateway needs to turn a
/// token's direct roles into Cedar parents without a query per request.
public struct RoleHierarchy: Sendable, Equatable {
    /// Each role's direct parents.
    public let parents: [String: [String]]
    public let groups: Set<String>

    public init(roles: [Role], groups: [String]) {
        var parents: [String: [String]] = [:]
        for role in roles { parents[role.name] = role.parents }
        self.parents = parents
        self.groups = Set(groups)
    }

    public static let empty = RoleHierarchy(roles: [], groups: [])

    /// Cedar entities for every role (with its parent roles) and group: added to each request's
    /// entity store so `principal in Role::"staff"` follows the hierarchy.
    public func cedarEntities() -> [Entity] {
        let roles = parents.keys.sorted().map { name in
            Entity(uid: EntityUID("Role", name), parents: (parents[name] ?? []).map { EntityUID("Role", $0) })
        }
        return roles + groups.sorted().map { Entity(uid: EntityUID("Group", $0)) }
    }
}

/// The principal side of Portcullis's Cedar request model (see `docs/policy-model.md`),
/// shared by the gateway and the identity admin API so both build principals the same way.
public enum PrincipalEntity {
    /// `User::"<login>"` with attributes id, email, name and parents: its roles and groups.
    public static func user(login: String, id: String, email: String, name: String, roles: [String], groups: [String]) -> Entity {
        Entity(uid: EntityUID("User", login),
               attributes: ["id": .string(CedarString(id)), "email": .string(CedarString(email)), "name": .string(CedarString(name))],
               parents: roles.map { EntityUID("Role", $0) } + groups.map { EntityUID("Group", $0) })
    }

    /// `Service::"<name>"` with attribute spiffe_id and parents: its roles.
    public static func service(name: String, spiffeID: String?, roles: [String]) -> Entity {
        Entity(uid: EntityUID("Service", name), attributes: ["spiffe_id": .string(CedarString(spiffeID ?? ""))],
               parents: roles.map { EntityUID("Role", $0) })
    }

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
