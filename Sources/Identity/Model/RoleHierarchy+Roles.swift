import AccessModel

extension RoleHierarchy {
    /// The hierarchy the identity store holds: each role with its direct parents, and the groups.
    public init(roles: [Role], groups: [String]) {
        var parents: [String: [String]] = [:]
        for role in roles { parents[role.name] = role.parents }
        self.init(parents: parents, groups: groups)
    }
}
