/// The decision for one request and what it rested on: the determining policies, the policies
/// skipped because they erred, and the version of the set that decided.
public struct AccessDecision: Sendable, Equatable {
    public let allowed: Bool
    public let policies: [String]
    public let errors: [String]
    public let policyVersion: String?

    public init(allowed: Bool, policies: [String], errors: [String], policyVersion: String?) {
        self.allowed = allowed
        self.policies = policies
        self.errors = errors
        self.policyVersion = policyVersion
    }

    /// Without a policy set every request is denied.
    public static let noPolicySet = AccessDecision(allowed: false, policies: [], errors: ["no policy set is loaded"], policyVersion: nil)
}
