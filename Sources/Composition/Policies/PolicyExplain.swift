import AccessModel
import Audit
import Cedar
import Foundation
import Identity
import Logging
import PostgresNIO

/// `portcullis policy explain`: one request's decision, the policies that applied, and why
/// every other policy did not (the reasons come from `Authorizer.explain`).
public struct PolicyExplainReport: Sendable {
    public let request: PolicyRequest
    public let explanation: Explanation
    public let policies: ToolPolicies
    /// What could not be reconstructed (explaining an audited request); empty otherwise.
    public let notes: [String]
    /// The audited decision, when explaining a request id: outcome, policies and policy version.
    public let recorded: AuditEvent?

    /// Explains a request built from command-line flags.
    public static func explain(
        _ request: PolicyRequest, hierarchy: RoleHierarchy, policies: ToolPolicies
    ) throws(PolicyToolError) -> PolicyExplainReport {
        let (cedar, entities) = try request.cedar(hierarchy: hierarchy)
        return PolicyExplainReport(
            request: request, explanation: policies.authorizer.explain(cedar, entities: entities), policies: policies,
            notes: [], recorded: nil)
    }

    /// Explains the request in a YAML or JSON file shaped like a test case (plus optional `role_parents`).
    public static func explain(file: String, policies: ToolPolicies) throws(PolicyToolError) -> PolicyExplainReport {
        try explain(text: try readText(file), source: file, policies: policies)
    }

    /// Explains the request written in `text` (YAML or JSON); `source` names it in errors. A
    /// document without `role_parents` is decided with `hierarchy`.
    static func explain(
        text: String, source: String, policies: ToolPolicies,
        hierarchy: RoleHierarchy = .empty
    ) throws(PolicyToolError) -> PolicyExplainReport {
        guard let root = try PolicyRequestReader.compose(text, file: source) else {
            throw .invalidFile(
                .missing(Composition.SourceLocation(file: source, line: 1, column: 1), path: "principal", hint: "the request is empty"))
        }
        let document: RequestDocument
        do throws(ConfigurationError) { document = try PolicyRequestReader.document(root, file: source) } catch { throw .invalidFile(error) }
        return try explain(document.request, hierarchy: document.hierarchy == .empty ? hierarchy : document.hierarchy, policies: policies)
    }

    /// Explains an audited access decision, rebuilt from its record as far as it was recorded.
    public static func explain(
        requestID: String, policies: ToolPolicies, configuration: PortcullisConfiguration,
        logger: Logger
    ) async throws -> PolicyExplainReport {
        try await AuditReplay.withDatabase(configuration, logger: logger) { client in
            try await explain(requestID: requestID, policies: policies, client: client, configuration: configuration, logger: logger)
        }
    }

    /// Explains an audited access decision, reading the audit trail and identity store through `client`.
    static func explain(
        requestID: String, policies: ToolPolicies, client: PostgresClient, configuration: PortcullisConfiguration,
        logger: Logger
    ) async throws -> PolicyExplainReport {
        let store = AuditStore(client: client, logger: logger)
        guard let event = try await store.search(AuditQuery(kind: .access, requestID: requestID, limit: 1)).first?.event else {
            throw PolicyToolError.auditRecordNotFound(requestID)
        }
        guard let principal = event.principal, let route = event.route, let path = event.target else {
            throw PolicyToolError.inconsistentRequest(
                "the record of \(requestID) has no principal, route or path (the request was refused before authorization: \(event.outcome))")
        }
        var replay = await AuditReplay.open(client: client, configuration: configuration, logger: logger)
        let (request, notes) = await replay.request(
            principal: principal, method: event.action, route: route, path: path,
            authMethod: event.authMethod ?? "none", clientAddress: event.clientAddress, time: event.time,
            grpc: event.details.map(AccessShape.recordsGRPCCall) ?? false)
        guard let request else { throw PolicyToolError.inconsistentRequest(notes.joined(separator: "; ")) }
        var allNotes = notes + AuditReplay.alwaysMissing
        if let version = event.policyVersion, version != policies.version {
            allNotes.append("the record was decided by policy version \(version.prefix(12)), these policies are \(policies.version.prefix(12))")
        }
        let (cedar, entities) = try request.cedar(hierarchy: replay.hierarchy)
        return PolicyExplainReport(
            request: request, explanation: policies.authorizer.explain(cedar, entities: entities), policies: policies,
            notes: allNotes, recorded: event)
    }

    public var text: String {
        let response = explanation.response
        var lines = [
            "decision: \(response.decision.rawValue)  (policies \(policies.directory), version \(policies.version.prefix(12)))",
            "request:  \(request.principal.uid) \(request.summary)",
        ]
        if let recorded {
            lines.append("recorded: \(recorded.outcome) by [\(recorded.policies.joined(separator: ", "))] at \(recorded.time.formatted(.iso8601))")
        }
        let applied = explanation.policies.filter { $0.outcome == .satisfied }
        lines.append("applied:")
        if applied.isEmpty { lines.append("  none") }
        for p in applied {
            let role = response.reasons.contains(p.id) ? "determining" : "overridden by a forbid"
            lines.append("  \(p.effect.rawValue) \(p.id) (\(p.location)): \(role)")
        }
        let others = explanation.policies.filter { $0.outcome != .satisfied }
        if !others.isEmpty { lines.append("did not apply:") }
        for p in others {
            lines.append("  \(p.effect.rawValue) \(p.id) (\(p.location)): \(Self.reason(p.outcome))")
        }
        if !notes.isEmpty {
            lines.append("not reconstructed from the audit record:")
            lines += notes.map { "  - \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    static func reason(_ outcome: PolicyOutcome) -> String {
        func at(_ clause: Clause) -> String { clause.location.map { " at \($0)" } ?? "" }
        switch outcome {
        case .satisfied: return "applied"
        case .scopeMismatch(let parts): return "scope mismatch: \(parts.map(\.rawValue).joined(separator: ", "))"
        case .conditionFalse(let clause): return "condition false: clause \(clause.number) \(clause)\(at(clause))"
        case .error(let clause, let error): return "error in clause \(clause.number) \(clause)\(at(clause)): \(error)"
        }
    }
}
