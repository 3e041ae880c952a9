public enum Decision: String, Hashable, Sendable {
    case allow = "Allow"
    case deny = "Deny"
}

/// An error raised while evaluating one policy; that policy was skipped.
public struct PolicyEvaluationError: Hashable, Sendable {
    public let policyID: String
    public let error: EvaluationError
}

/// The authorizer's answer: the decision, the policies that determined it, and per-policy errors.
public struct Response: Hashable, Sendable {
    public let decision: Decision
    /// Satisfied permits when allowed, satisfied forbids otherwise; in policy order.
    public let reasons: [String]
    public let errors: [PolicyEvaluationError]
}
