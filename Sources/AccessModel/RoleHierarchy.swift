import Cedar

/// The role graph and group list as one immutable snapshot: what turns a credential's direct
/// roles into Cedar parents without a query per request.
public struct RoleHierarchy: Sendable, Equatable {
    /// Each role's direct parents.
    public let parents: [String: [String]]
    public let groups: Set<String>
    /// Roles, groups and the actions as one entity store with its closure computed, to which each
    /// request adds only its principal and resource (`Entities.withLeaves`). A failure (a cycle,
    /// which the identity store refuses to record) is kept and refuses every decision.
    public let entities: Result<Entities, InputError>

    /// From role names to their direct parent roles, as a policy test file writes the hierarchy.
    public init(parents: [String: [String]], groups: [String]) {
        self.parents = parents
        self.groups = Set(groups)
        let roles = parents.keys.sorted().map { name in
            Entity(uid: EntityUID("Role", name), parents: (parents[name] ?? []).map { EntityUID("Role", $0) })
        }
        let entities = roles + self.groups.sorted().map { Entity(uid: EntityUID("Group", $0)) } + ActionEntities.all
        self.entities = Result { () throws(InputError) in try Entities(entities) }
    }

    public static func == (left: RoleHierarchy, right: RoleHierarchy) -> Bool {
        left.parents == right.parents && left.groups == right.groups
    }

    public static let empty = RoleHierarchy(parents: [:], groups: [])
}
