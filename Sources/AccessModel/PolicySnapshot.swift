import Cedar

/// A parsed policy set with its version (the hash of its sources): what every decision and
/// audit record names.
public struct PolicySnapshot: Sendable {
    public let authorizer: Authorizer
    public let version: String

    public init(authorizer: Authorizer, version: String) {
        self.authorizer = authorizer
        self.version = version
    }

    /// Decides `request` with this policy set; the entity store comes from `hierarchy`.
    public func decide(_ request: AccessRequest, hierarchy: RoleHierarchy) -> AccessDecision {
        let cedar: (request: Cedar.Request, entities: Entities)
        do {
            cedar = try request.cedar(hierarchy: hierarchy)
        } catch {
            return AccessDecision(allowed: false, policies: [], errors: ["inconsistent entities: \(error)"], policyVersion: version)
        }
        let response = authorizer.isAuthorized(cedar.request, entities: cedar.entities)
        return AccessDecision(
            allowed: response.decision == .allow, policies: response.reasons,
            errors: response.errors.map { "\($0.policyID): \($0.error)" }, policyVersion: version)
    }
}
