import AccessModel
import Cedar
import Foundation
import Identity
import Logging
import PolicyStore
import PostgresNIO

/// The policy workbench of a running identity service, behind `/v1/admin/policies/{check,
/// explain,diff}` and the admin console. "The active version" is what the gateways enforce:
/// the policy store's active version with `policies.source: database`, the policy directory
/// with `policies.source: files`. Requests are decided with the identity store's role
/// hierarchy as it is now, and the diff corpus is read from the audit trail, exactly as
/// `portcullis policy explain` and `policy diff` do.
public struct LivePolicyWorkbench: PolicyWorkbench {
    let client: PostgresClient
    let versions: PolicyVersions
    let configuration: PortcullisConfiguration
    let logger: Logger

    public init(client: PostgresClient, versions: PolicyVersions, configuration: PortcullisConfiguration, logger: Logger) {
        self.client = client
        self.versions = versions
        self.configuration = configuration
        self.logger = logger
    }

    public func check(_ bundle: PolicyBundle) async -> PolicyCheckReport {
        await PolicyWorkflow.checker.check(bundle, origin: Self.previewOrigin)
    }

    public func explain(_ request: WorkbenchRequest, policies bundle: PolicyBundle?) async throws(PolicyWorkbenchError) -> ExplainedDecision {
        let policies = try await toolPolicies(bundle)
        let report: PolicyExplainReport
        do {
            switch request {
            case let .described(text, source):
                report = try PolicyExplainReport.explain(text: text, source: source, policies: policies, hierarchy: try await hierarchy())
            case let .audited(requestID):
                report = try await PolicyExplainReport.explain(
                    requestID: requestID, policies: policies, client: client,
                    configuration: configuration, logger: logger)
            }
        } catch {
            throw Self.translate(error)
        }
        return report.decision
    }

    public func diff(from old: PolicyBundle?, to new: PolicyBundle, corpus: DiffCorpus) async throws(PolicyWorkbenchError) -> DecisionDiff {
        let before = try await toolPolicies(old)
        let after = try await toolPolicies(new)
        do {
            let report: PolicyDiffReport
            switch corpus {
            case let .audit(days):
                guard (1...366).contains(days) else { throw PolicyWorkbenchError.invalidInput("days: expected a number from 1 to 366") }
                let (entries, notes) = try await PolicyDiffReport.auditEntries(
                    days: days, client: client, configuration: configuration, logger: logger)
                report = try PolicyDiffReport.compare(
                    entries, old: before, new: after, corpus: "the audit log, last \(days) day\(days == 1 ? "" : "s")",
                    notes: notes)
            case let .requests(text, source):
                report = try PolicyDiffReport.compare(
                    try PolicyDiffReport.entries(text: text, source: source), old: before, new: after,
                    corpus: source)
            }
            return report.decisions
        } catch {
            throw Self.translate(error)
        }
    }

    /// How previewed bundles are named in messages.
    static let previewOrigin = "preview"

    /// The bundle parsed and validated against its schema, or the active version's.
    private func toolPolicies(_ bundle: PolicyBundle?) async throws(PolicyWorkbenchError) -> ToolPolicies {
        let chosen: PolicyBundle
        let origin: String
        if let bundle {
            (chosen, origin) = (bundle, Self.previewOrigin)
        } else {
            (chosen, origin) = try await active()
        }
        // Validation only: a preview is useful while the bundle's tests still fail.
        let report: PolicyCheckReport
        do throws(PolicyStoreError) {
            report = await PolicyChecker(testRunner: nil).check(
                try PolicyBundle(policies: chosen.policies, schema: chosen.schema, tests: []),
                origin: origin)
        } catch {
            throw .invalidInput(error.description)
        }
        guard report.passed, case let .success(set) = chosen.parse(origin: origin) else { throw .invalidPolicies(report) }
        return ToolPolicies(directory: origin, version: chosen.version, set: set, authorizer: Authorizer(set))
    }

    /// What the gateways enforce now, and how to name it in messages.
    private func active() async throws(PolicyWorkbenchError) -> (PolicyBundle, String) {
        do {
            switch configuration.policies.source {
            case .files:
                return (try PolicyBundle.read(directory: configuration.policies.directory), configuration.policies.directory)
            case .database:
                guard let stored = try await versions.active() else { throw PolicyWorkbenchError.notFound("the policy store has no active version") }
                return (stored.bundle, stored.origin)
            }
        } catch let error as PolicyWorkbenchError {
            throw error
        } catch {
            throw .unavailable("the active policy set cannot be read: \(error)")
        }
    }

    private func hierarchy() async throws -> RoleHierarchy {
        try await IdentityStore(client: client, logger: logger).hierarchy()
    }

    private static func translate(_ error: any Error) -> PolicyWorkbenchError {
        switch error {
        case let error as PolicyWorkbenchError: error
        case let PolicyToolError.auditRecordNotFound(id): .notFound("no access record with request id \(id) in the audit log")
        case let error as PolicyToolError: .invalidInput(error.description)
        default: .unavailable("\(error)")
        }
    }
}

extension PolicyExplainReport {
    /// The report as the admin API and console show it: applied policies first, then the rest
    /// in policy order.
    var decision: ExplainedDecision {
        let response = explanation.response
        let traces = explanation.policies.map { p in
            let outcome: PolicyTrace.Outcome =
                switch p.outcome {
                case .satisfied: .applied
                case .scopeMismatch: .scopeMismatch
                case .conditionFalse: .conditionFalse
                case .error: .error
                }
            return PolicyTrace(
                id: p.id, effect: p.effect.rawValue, location: "\(p.location)", outcome: outcome,
                determining: response.reasons.contains(p.id),
                reason: p.outcome == .satisfied
                    ? (response.reasons.contains(p.id) ? "applied: determining" : "applied: overridden by a forbid")
                    : Self.reason(p.outcome))
        }
        return ExplainedDecision(
            decision: response.decision.rawValue, request: "\(request.principal.uid) \(request.summary)", policyVersion: policies.version,
            policies: traces.filter { $0.outcome == .applied } + traces.filter { $0.outcome != .applied }, notes: notes,
            recorded: recorded.map { .init(outcome: $0.outcome, policies: $0.policies, policyVersion: $0.policyVersion, time: $0.time) })
    }
}

extension PolicyDiffReport {
    /// The report as the admin API and console show it.
    var decisions: DecisionDiff {
        DecisionDiff(
            oldVersion: old.version, newVersion: new.version, corpus: corpus, total: total,
            changes: changes.map { change in
                let request = change.entry.request
                return DecisionDiff.Change(
                    principal: request.principal.uid.description, roles: request.principal.roles, groups: request.principal.groups,
                    route: request.route,
                    method: request.method, path: request.path, authMethod: request.effectiveAuthMethodName, seen: change.entry.seen,
                    old: change.old.decision.rawValue, oldPolicies: change.old.reasons, new: change.new.decision.rawValue,
                    newPolicies: change.new.reasons)
            }, notes: notes)
    }
}
