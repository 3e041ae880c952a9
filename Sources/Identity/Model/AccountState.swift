/// What an open session or access token of a user rests on now, whatever it was issued with.
public struct AccountState: Sendable, Equatable {
    public let isActive: Bool
    public let roles: [String]
    public let groups: [String]

    public init(isActive: Bool, roles: [String], groups: [String]) {
        self.isActive = isActive
        self.roles = roles
        self.groups = groups
    }
}
