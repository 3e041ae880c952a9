import Foundation
import Hummingbird
import Identity
import PolicyStore

/// Policies: the version in force and its history, any version's files, the editor (live
/// validation, tests, diff against traffic, push), rollback, and "try a request".
extension AdminConsole {
    static let policyPages: [ConsolePage] = [
        ConsolePage(.get, "policies") { console, request, context in try await console.policies(request, context) },
        ConsolePage(.get, "policies/versions/:version") { console, _, context in try await console.version(context) },
        ConsolePage(.post, "policies/versions/:version/rollback") { console, _, context in try await console.rollback(context) },
        ConsolePage(.get, "policies/editor") { console, _, context in try await console.editor(context) },
        ConsolePage(.post, "policies/editor") { console, _, context in try await console.editorAction(context) },
        ConsolePage(.post, "policies/check") { console, _, context in await console.check(context) },
        ConsolePage(.get, "policies/try") { console, request, context in try await console.tryRequest(request, context) },
    ]

    /// How far back "diff against traffic" looks.
    static let diffDays = 7

    // MARK: Versions

    private func policies(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let before = ConsoleContext.query(request, "before").flatMap { Int64($0) }
        let active = try await policyVersions.active()
        let history = try await policyVersions.history(before: before, limit: 25)
        let next = history.count == 25 ? history.last.map { String($0.number) } : nil
        return render(
            .ok, "policies",
            [
                "section": "policies", "title": "Policies", "active": active.map { Self.versionValues($0.version) } as Any,
                "history": history.map(Self.versionValues), "next": next as Any,
            ], context)
    }

    private func version(_ context: ConsoleContext) async throws -> Response {
        let stored = try await policyVersions.show(try Self.versionNumber(context))
        let files = stored.bundle.policies + (stored.bundle.schema.map { [$0] } ?? []) + stored.bundle.tests
        return render(
            .ok, "version",
            [
                "section": "policies", "title": "Policy version \(stored.version.number)", "version": Self.versionValues(stored.version),
                "files": files.map { ["name": $0.name, "lines": Self.numberedLines($0.text)] },
            ], context)
    }

    private func rollback(_ context: ConsoleContext) async throws -> Response {
        let number = try Self.versionNumber(context)
        let operations = operations(context)
        do {
            let version = try await policyVersions.rollback(to: number, author: operations.actor.principal, message: context.field("message"))
            operations.record("policy.rollback", target: "PolicyVersion::\"\(version.number)\"", before: nil, after: version)
            return Self.redirect("policies")
        } catch {
            operations.record(
                "policy.rollback", target: "PolicyVersion::\"\(number)\"", before: nil, after: ["error": "\(error)"],
                outcome: "refused")
            throw error
        }
    }

    // MARK: Editor

    private func editor(_ context: ConsoleContext) async throws -> Response {
        guard let active = try await policyVersions.active() else {
            throw ConsoleError.notFound("No policy version is stored yet: push the first with `portcullis policy push`.")
        }
        return editorPage(.ok, base: active, files: active.bundle.policies, message: "", outcome: [:], context)
    }

    /// The editor's buttons: run the tests, diff against the last days of traffic, or push.
    private func editorAction(_ context: ConsoleContext) async throws -> Response {
        let base = try await policyVersions.show(try Self.number(context.requiredField("base"), field: "base"))
        let files = base.bundle.policies.map { PolicyBundle.File(name: $0.name, text: context.form["file:" + $0.name] ?? "") }
        let bundle = try PolicyBundle(policies: files, schema: base.bundle.schema, tests: base.bundle.tests)
        let message = context.field("message") ?? ""
        switch context.field("op") {
        case "test":
            let report = try await requireWorkbench().check(bundle)
            return editorPage(
                report.passed ? .ok : .unprocessableContent, base: base, files: files, message: message,
                outcome: ["tested": true, "report": Self.reportValues(report)], context)
        case "diff":
            switch await trafficDiff(bundle) {
            case let .success(diff):
                return editorPage(.ok, base: base, files: files, message: message, outcome: ["diff": Self.diffValues(diff)], context)
            case let .failure(.invalidPolicies(report)):
                return editorPage(
                    .unprocessableContent, base: base, files: files, message: message,
                    outcome: ["tested": true, "report": Self.reportValues(report)], context)
            case let .failure(error):
                throw error
            }
        case "push":
            let operations = operations(context)
            do {
                let version = try await policyVersions.push(bundle, author: operations.actor.principal, message: message, origin: "console")
                operations.record("policy.push", target: "PolicyVersion::\"\(version.number)\"", before: nil, after: version)
                return Self.redirect("policies")
            } catch {
                operations.record("policy.push", target: "policy-store", before: nil, after: ["error": "\(error)"], outcome: "refused")
                guard case let .refused(report) = error else { throw error }
                return editorPage(
                    .unprocessableContent, base: base, files: files, message: message,
                    outcome: ["refused": true, "report": Self.reportValues(report)], context)
            }
        default:
            throw ConsoleError.invalid("choose test, diff or push")
        }
    }

    private func editorPage(
        _ status: HTTPResponse.Status, base: StoredPolicyVersion, files: [PolicyBundle.File], message: String,
        outcome: [String: Any], _ context: ConsoleContext
    ) -> Response {
        var values: [String: Any] = [
            "section": "policies", "title": "Edit policies", "base": base.version.number, "message": message,
            "files": files.enumerated().map { index, file in
                [
                    "index": index, "name": file.name, "text": file.text,
                    "gutter": (1...max(1, file.text.split(separator: "\n", omittingEmptySubsequences: false).count)).map(String.init)
                        .joined(separator: "\n"),
                ] as [String: Any]
            },
            "previews": workbench != nil,
        ]
        values.merge(outcome) { $1 }
        return render(status, "editor", values, context)
    }

    /// `{"base": N, "files": {"name.cedar": "…"}}` → the check report as JSON, for the editor's
    /// validation as you type. Nothing is stored.
    private func check(_ context: ConsoleContext) async -> Response {
        struct Body: Decodable {
            var base: Int64
            var files: [String: String]
        }
        struct Answer: Encodable {
            var passed: Bool
            var report: PolicyCheckReport?
            var error: String?
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: context.json) else {
            return Self.json(.badRequest, Answer(passed: false, error: "expected {\"base\": <version>, \"files\": {name: text}}"))
        }
        do {
            let base = try await policyVersions.show(body.base)
            let files = base.bundle.policies.map { PolicyBundle.File(name: $0.name, text: body.files[$0.name] ?? "") }
            let report = try await requireWorkbench().check(PolicyBundle(policies: files, schema: base.bundle.schema, tests: base.bundle.tests))
            return Self.json(.ok, Answer(passed: report.passed, report: report))
        } catch {
            let failure = ConsoleError.from(error)
            return Self.json(failure.status, Answer(passed: false, error: failure.description))
        }
    }

    /// The decisions `bundle` would change over the last days of traffic.
    private func trafficDiff(_ bundle: PolicyBundle) async -> Result<DecisionDiff, PolicyWorkbenchError> {
        guard let workbench else { return .failure(.unavailable("Policy previews are not available in this process.")) }
        do { return .success(try await workbench.diff(from: nil, to: bundle, corpus: .audit(days: Self.diffDays))) } catch { return .failure(error) }
    }

    // MARK: Try a request

    private func tryRequest(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        func query(_ name: String) -> String? { ConsoleContext.query(request, name) }
        let kind = query("kind") ?? "User"
        var values: [String: Any] = [
            "section": "policies", "title": "Try a request", "previews": workbench != nil,
            "id": query("id") ?? "", "roles": query("roles") ?? "", "groups": query("groups") ?? "", "method": query("method") ?? "GET",
            "route": query("route") ?? "", "path": query("path") ?? "/", "mfa": query("mfa") != nil,
            "kind_" + kind: true,
        ]
        if let id = query("id"), let route = query("route") {
            guard ["User", "Service", "Anonymous"].contains(kind) else { throw ConsoleError.invalid("kind must be User, Service or Anonymous") }
            func list(_ text: String?) -> [String] {
                (text ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            }
            let described: [String: Any] = [
                "principal": ["type": kind, "id": id, "roles": list(query("roles")), "groups": list(query("groups"))],
                "action": (query("method") ?? "GET").uppercased(),
                "resource": ["route": route],
                "context": ["http": ["path": query("path") ?? "/"], "auth": ["mfa": query("mfa") != nil]],
            ]
            let text = String(decoding: try JSONSerialization.data(withJSONObject: described, options: [.sortedKeys]), as: UTF8.self)
            let explained = try await requireWorkbench().explain(.described(text: text, source: "console request"), policies: nil)
            values["result"] = Self.explanationValues(explained)
        }
        return render(.ok, "try", values, context)
    }

    // MARK: Helpers

    func requireWorkbench() throws(ConsoleError) -> any PolicyWorkbench {
        guard let workbench else { throw .unavailable("Policy previews (check, explain, diff) are not available in this process.") }
        return workbench
    }

    private static func versionNumber(_ context: ConsoleContext) throws(ConsoleError) -> Int64 {
        try number(try context.parameter("version"), field: "version")
    }

    private static func number(_ text: String, field: String) throws(ConsoleError) -> Int64 {
        guard let number = Int64(text), number > 0 else { throw .invalid("\(field) must be a version number") }
        return number
    }

    static func versionValues(_ version: PolicyVersion) -> [String: Any] {
        [
            "number": version.number, "hash": version.hash, "short_hash": String(version.hash.prefix(12)), "author": version.author,
            "message": version.message, "created_at": Self.time(version.createdAt), "active": version.active,
            "rollback_of": version.rollbackOf as Any, "cases": version.tests.cases, "warnings": version.warnings.count,
        ]
    }

    static func reportValues(_ report: PolicyCheckReport) -> [String: Any] {
        func finding(_ finding: PolicyCheckReport.Finding) -> [String: Any] {
            ["file": finding.file, "line": finding.line, "column": finding.column, "policy": finding.policy as Any, "message": finding.message]
        }
        return [
            "passed": report.passed, "errors": report.errors.map(finding), "warnings": report.warnings.map(finding),
            "files": report.tests.files, "cases": report.tests.cases, "failures": report.tests.failures,
            "has_errors": !report.errors.isEmpty, "has_failures": !report.tests.failures.isEmpty,
        ]
    }

    /// Changes grouped by principal, then route (the diff is already in that order).
    static func diffValues(_ diff: DecisionDiff) -> [String: Any] {
        // Consecutive runs of one principal, and within them of one route.
        var groups: [(principal: String, routes: [(route: String, changes: [[String: Any]])])] = []
        for change in diff.changes {
            let row: [String: Any] = [
                "method": change.method, "path": change.path, "auth": change.authMethod, "seen": change.seen as Any,
                "old": change.old, "new": change.new, "old_policies": change.oldPolicies.joined(separator: ", "),
                "new_policies": change.newPolicies.joined(separator: ", "), "now_allowed": change.new.lowercased() == "allow",
            ]
            if groups.last?.principal != change.principal { groups.append((change.principal, [])) }
            var routes = groups[groups.count - 1].routes
            if routes.last?.route == change.route { routes[routes.count - 1].changes.append(row) } else { routes.append((change.route, [row])) }
            groups[groups.count - 1].routes = routes
        }
        let principals = groups.map { group in
            ["principal": group.principal, "routes": group.routes.map { ["route": $0.route, "changes": $0.changes] as [String: Any] }]
                as [String: Any]
        }
        return [
            "corpus": diff.corpus, "total": diff.total, "count": diff.changes.count, "principals": principals, "notes": diff.notes,
            "old_version": String(diff.oldVersion.prefix(12)), "new_version": String(diff.newVersion.prefix(12)),
        ]
    }

    static func explanationValues(_ explained: ExplainedDecision) -> [String: Any] {
        [
            "decision": explained.decision, "allowed": explained.decision.lowercased() == "allow", "request": explained.request,
            "policy_version": explained.policyVersion, "notes": explained.notes,
            "policies": explained.policies.map { trace in
                [
                    "id": trace.id, "effect": trace.effect, "location": trace.location, "outcome": trace.outcome.rawValue,
                    "determining": trace.determining, "reason": trace.reason, "applied": trace.outcome == .applied,
                ] as [String: Any]
            },
            "recorded": explained.recorded.map { recorded in
                [
                    "outcome": recorded.outcome, "policies": recorded.policies.joined(separator: ", "),
                    "policy_version": recorded.policyVersion ?? "", "time": Self.time(recorded.time),
                ] as [String: Any]
            } as Any,
        ]
    }

    static func numberedLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { ["number": $0.offset + 1, "text": String($0.element)] }
    }

    static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day().time(includingFractionalSeconds: false))
    }
}
