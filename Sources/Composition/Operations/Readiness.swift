import Audit
import Database
import PolicyStore

/// One dependency that must be healthy before this process may receive traffic.
public protocol ReadinessCheck: Sendable {
    var name: String { get }
    /// nil when healthy, otherwise why not (no secrets: it is served on `/readyz`).
    func problem() async -> String?
}

/// Ready once a query completes; the probe is bounded so a hung server reads as "not ready".
public struct DatabaseReadiness: ReadinessCheck {
    public let name = "database"
    let database: Database
    let timeout: Duration

    public init(database: Database, timeout: Duration = .seconds(2)) {
        self.database = database
        self.timeout = timeout
    }

    public func problem() async -> String? {
        switch await database.ping(timeout: timeout) {
        case .reachable: nil
        case .unreachable(let reason): reason
        }
    }
}

/// Runs every check concurrently and reports all of them, so one slow dependency does not hide another.
struct ReadinessReport: Sendable {
    var problems: [String: String?]
    var isReady: Bool { problems.values.allSatisfy { $0 == nil } }

    static func gather(_ checks: [any ReadinessCheck]) async -> ReadinessReport {
        await withTaskGroup(of: (String, String?).self) { group in
            for check in checks { group.addTask { (check.name, await check.problem()) } }
            var problems: [String: String?] = [:]
            for await (name, problem) in group {
                // Two checks under one name (the discarding recorder stands beside the audit
                // writer's) report the problem if either has one, whichever finishes last.
                if case .some(.some) = problems[name] { continue }
                problems[name] = problem
            }
            return ReadinessReport(problems: problems)
        }
    }
}

/// Not ready while the audit trail refuses events (`fail_closed` with the queue and spool full):
/// load balancers then move traffic to replicas that can record it.
public struct AuditReadiness: ReadinessCheck {
    public let name = "audit"
    let recorder: any AuditRecorder

    public init(recorder: any AuditRecorder) {
        self.recorder = recorder
    }

    public func problem() async -> String? {
        recorder.isAcceptingTraffic ? nil : "audit queue and spool are full (fail_closed)"
    }
}

/// With `policies.source: database`: ready once a version from the store is enforced and the feed
/// is listening for the next one. An active version that failed to parse leaves the previous one
/// in force, which keeps the process ready (pulling every gateway out of service at once would
/// be worse); with no version at all, every request would be denied, so it is not ready.
extension PolicyFeed: ReadinessCheck {
    public var name: String { "policies" }

    public func problem() async -> String? {
        let current = state
        guard current.synchronized else { return "policy feed not synchronised with the store" }
        guard current.enforced == nil else { return nil }
        if let refused = current.refused { return "active policy version \(refused.number) was refused: \(refused.reason)" }
        return "the policy store has no version yet (portcullis policy push)"
    }
}

/// Accepts and forgets every event, so `scripts/bench-gateway` can measure what recording costs
/// (`serve --benchmark-without-audit`). As a readiness check it always fails.
struct DiscardingRecorder: AuditRecorder, ReadinessCheck {
    let name = "audit"

    func record(_ event: AuditEvent) -> Bool { true }

    var isAcceptingTraffic: Bool { true }

    func problem() async -> String? { "audit events are discarded (--benchmark-without-audit): not for real traffic" }
}
