/// Which Portcullis roles and groups each provider group grants. Memberships a mapping can grant
/// are the provider's to decide: at every sign-in they are set to what the provider says now;
/// roles and groups no mapping names are left to administrators.
public struct GroupMapping: Sendable, Equatable {
    public struct Grants: Sendable, Equatable {
        public var roles: Set<String> = []
        public var groups: Set<String> = []

        public init(roles: Set<String> = [], groups: Set<String> = []) {
            self.roles = roles
            self.groups = groups
        }
    }

    public var table: [String: Grants]

    public init(_ table: [String: Grants] = [:]) { self.table = table }

    /// What the provider's `groups` grant now.
    public func grants(for providerGroups: [String]) -> Grants {
        var granted = Grants()
        for group in providerGroups {
            guard let grants = table[group] else { continue }
            granted.roles.formUnion(grants.roles)
            granted.groups.formUnion(grants.groups)
        }
        return granted
    }

    /// Every role and group some provider group grants: those the provider manages.
    public var managed: Grants {
        grants(for: Array(table.keys))
    }
}
