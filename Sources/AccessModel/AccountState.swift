/// A user as the identity store holds them now: what an open session or access token is decided
/// on, whatever it was issued with (a role removed or an account disabled applies at once).
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
