import Synchronization

/// The policy set in force. Replaced as a whole: a request sees the old set or the new one,
/// never a mix, and a set that failed to parse never gets here.
public final class PolicyHolder: Sendable {
    private let current: Mutex<PolicySnapshot?>

    public init(_ initial: PolicySnapshot?) { current = Mutex(initial) }

    public var snapshot: PolicySnapshot? { current.withLock { $0 } }

    public func replace(with snapshot: PolicySnapshot) { current.withLock { $0 = snapshot } }

    /// Decides `request` with the set in force; denies when there is none.
    public func decide(_ request: AccessRequest, hierarchy: RoleHierarchy) -> AccessDecision {
        snapshot?.decide(request, hierarchy: hierarchy) ?? .noPolicySet
    }
}
