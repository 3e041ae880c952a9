import Cedar

/// The principal side of the request model (`docs/policy-model.md`): how a user, a service or
/// an anonymous caller becomes a Cedar entity, for the gateway, the admin API and the policy tools.
public enum PrincipalEntity {
    /// `User::"<login>"` with attributes id (the login) and, when known, email and name; parents:
    /// its roles and groups.
    public static func user(login: String, email: String? = nil, name: String? = nil, roles: [String], groups: [String]) -> Entity {
        var attributes: [CedarString: Value] = ["id": .string(CedarString(login))]
        if let email { attributes["email"] = .string(CedarString(email)) }
        if let name { attributes["name"] = .string(CedarString(name)) }
        return Entity(
            uid: EntityUID("User", login), attributes: attributes,
            parents: roles.map { EntityUID("Role", $0) } + groups.map { EntityUID("Group", $0) })
    }

    /// `Service::"<name>"` with attribute spiffe_id and parents: its roles.
    public static func service(name: String, spiffeID: String?, roles: [String]) -> Entity {
        Entity(
            uid: EntityUID("Service", name), attributes: ["spiffe_id": .string(CedarString(spiffeID ?? ""))],
            parents: roles.map { EntityUID("Role", $0) })
    }

    /// `Anonymous::"anonymous"`: a request without credentials.
    public static let anonymous = Entity(uid: EntityUID("Anonymous", "anonymous"))
}
