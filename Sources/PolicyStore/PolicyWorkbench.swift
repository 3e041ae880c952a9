import Foundation

/// Shows what a policy set does before it ships: one request's decision with the reason every
/// policy applied or not, and every decision that would change over recent traffic.
///
/// The request model (principals, routes, the Cedar context) lives with the gateway, so the
/// composition layer implements this; the admin API and the admin console call it, and both
/// give the same answers as `portcullis policy explain` and `policy diff`.
public protocol PolicyWorkbench: Sendable {
    /// Validates and tests `bundle` exactly as a push would, without storing anything.
    func check(_ bundle: PolicyBundle) async -> PolicyCheckReport

    /// Decides `request` under `policies` (the active version when nil) and explains it.
    func explain(_ request: WorkbenchRequest, policies: PolicyBundle?) async throws(PolicyWorkbenchError) -> ExplainedDecision

    /// Replays `corpus` through `old` (the active version when nil) and `new`, keeping every
    /// request whose decision differs.
    func diff(from old: PolicyBundle?, to new: PolicyBundle, corpus: DiffCorpus) async throws(PolicyWorkbenchError) -> DecisionDiff
}

/// The request to explain.
public enum WorkbenchRequest: Sendable, Equatable {
    /// A request written like a policy test case (`principal`, `action`, `resource`, `context`…),
    /// as YAML or JSON text; `source` names it in error messages.
    case described(text: String, source: String)
    /// An access decision from the audit trail, rebuilt as far as it was recorded.
    case audited(requestID: String)
}

/// The requests a diff replays.
public enum DiffCorpus: Sendable, Equatable {
    /// The distinct (principal, method, route, path, auth method) seen in the audit trail over
    /// the last `days` days.
    case audit(days: Int)
    /// One request per line, each written like a policy test case, as JSON; `source` names
    /// the text in error messages.
    case requests(text: String, source: String)
}

/// Why a preview could not be computed. Nothing is ever changed by a preview.
public enum PolicyWorkbenchError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The request, corpus or policy text is malformed; the message names line and column.
    case invalidInput(String)
    /// The policy set does not parse or fails validation (every finding, located).
    case invalidPolicies(PolicyCheckReport)
    /// No audited access decision has this request id.
    case notFound(String)
    /// PostgreSQL (audit trail, identity store, policy store) could not be read.
    case unavailable(String)

    public var description: String {
        switch self {
        case let .invalidInput(reason), let .notFound(reason), let .unavailable(reason): reason
        case let .invalidPolicies(report): "the policy set is not valid:\n" + report.description
        }
    }
}

/// One policy's part in a decision.
public struct PolicyTrace: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable {
        /// Scope matched and every condition held: the policy applied.
        case applied
        /// Principal, action or resource did not match the scope.
        case scopeMismatch = "scope_mismatch"
        /// A `when` or `unless` clause ruled it out.
        case conditionFalse = "condition_false"
        /// Evaluating it failed; such a policy is skipped, as Cedar specifies.
        case error
    }

    public var id: String
    /// `permit` or `forbid`.
    public var effect: String
    /// `file:line:column` of the policy.
    public var location: String
    public var outcome: Outcome
    /// Whether the decision rests on this policy (an applied permit overridden by a forbid does not).
    public var determining: Bool
    /// Why, in words: the mismatched scope parts, the false clause, or the error.
    public var reason: String

    public init(id: String, effect: String, location: String, outcome: Outcome, determining: Bool, reason: String) {
        self.id = id
        self.effect = effect
        self.location = location
        self.outcome = outcome
        self.determining = determining
        self.reason = reason
    }
}

/// A decision and its explanation.
public struct ExplainedDecision: Sendable, Equatable, Codable {
    /// What the audit trail recorded for an audited request.
    public struct Recorded: Sendable, Equatable, Codable {
        public var outcome: String
        public var policies: [String]
        public var policyVersion: String?
        public var time: Date

        enum CodingKeys: String, CodingKey {
            case outcome, policies
            case policyVersion = "policy_version"
            case time
        }

        public init(outcome: String, policies: [String], policyVersion: String?, time: Date) {
            self.outcome = outcome
            self.policies = policies
            self.policyVersion = policyVersion
            self.time = time
        }
    }

    /// `Allow` or `Deny`, as Cedar names them.
    public var decision: String
    /// The request in one line: principal, method, path, route.
    public var request: String
    /// The version (content hash) of the policy set that decided.
    public var policyVersion: String
    /// Every policy of the set, the applied ones first.
    public var policies: [PolicyTrace]
    /// What could not be reconstructed from an audit record; empty otherwise.
    public var notes: [String]
    public var recorded: Recorded?

    enum CodingKeys: String, CodingKey {
        case decision, request
        case policyVersion = "policy_version"
        case policies, notes, recorded
    }

    public init(decision: String, request: String, policyVersion: String, policies: [PolicyTrace], notes: [String], recorded: Recorded?) {
        self.decision = decision
        self.request = request
        self.policyVersion = policyVersion
        self.policies = policies
        self.notes = notes
        self.recorded = recorded
    }
}

/// The decisions a policy change would flip.
public struct DecisionDiff: Sendable, Equatable, Codable {
    /// One request whose decision differs between the two sets.
    public struct Change: Sendable, Equatable, Codable {
        public var principal: String
        public var roles: [String]
        public var groups: [String]
        public var route: String
        public var method: String
        public var path: String
        public var authMethod: String
        /// How often the audit trail saw it (nil for a requests file).
        public var seen: Int?
        /// `Allow` or `Deny` under the old set, and the policies that decided.
        public var old: String
        public var oldPolicies: [String]
        public var new: String
        public var newPolicies: [String]

        enum CodingKeys: String, CodingKey {
            case principal, roles, groups, route, method, path
            case authMethod = "auth_method"
            case seen, old
            case oldPolicies = "old_policies"
            case new
            case newPolicies = "new_policies"
        }

        public init(
            principal: String, roles: [String], groups: [String], route: String, method: String, path: String, authMethod: String,
            seen: Int?, old: String, oldPolicies: [String], new: String, newPolicies: [String]
        ) {
            self.principal = principal
            self.roles = roles
            self.groups = groups
            self.route = route
            self.method = method
            self.path = path
            self.authMethod = authMethod
            self.seen = seen
            self.old = old
            self.oldPolicies = oldPolicies
            self.new = new
            self.newPolicies = newPolicies
        }
    }

    public var oldVersion: String
    public var newVersion: String
    /// Where the requests came from, in words.
    public var corpus: String
    /// Requests replayed.
    public var total: Int
    /// Ordered by principal, route, path and method, so a reviewer reads them grouped.
    public var changes: [Change]
    /// Requests that could not be replayed and gaps in their reconstruction.
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case oldVersion = "old_version"
        case newVersion = "new_version"
        case corpus, total, changes, notes
    }

    public init(oldVersion: String, newVersion: String, corpus: String, total: Int, changes: [Change], notes: [String]) {
        self.oldVersion = oldVersion
        self.newVersion = newVersion
        self.corpus = corpus
        self.total = total
        self.changes = changes
        self.notes = notes
    }
}
