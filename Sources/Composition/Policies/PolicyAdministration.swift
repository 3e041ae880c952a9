import Audit
import Cedar
import Foundation
import Logging
import PolicyStore

/// The checks every policy version must pass before it becomes active, shared by the CLI and
/// the admin API.
public enum PolicyWorkflow {
    /// Runs a bundle's `tests/*.yaml` with the same runner as `portcullis policy test`, so a
    /// set whose tests fail can never become active.
    static let testRunner: PolicyTestRunner? = { tests, set, _ in
        let files = try tests.map { file throws(PolicyToolError) in try PolicyTestFile.parse(file.text, path: file.name) }
        let policies = ToolPolicies(directory: "policy-store", version: "", set: set, authorizer: Authorizer(set))
        let report = try PolicyTestReport.run(files, policies: policies)
        return PolicyTestSummary(
            files: report.files, cases: report.cases,
            failures: report.failures.map { failure in
                "\(failure.testCase.location): \(failure.testCase.name): expected \(failure.testCase.expected.rawValue), got "
                    + "\(failure.response.decision.rawValue) by [\(failure.response.reasons.joined(separator: ", "))]"
            })
    }

    public static var checker: PolicyChecker { PolicyChecker(testRunner: testRunner) }
}

/// What `portcullis policy push|history|show|rollback` do, against the configured database.
/// Pushes and rollbacks, applied or refused, are recorded in the audit trail with the
/// operator's OS account as the actor, as admin API changes are.
public struct PolicyAdministration: Sendable {
    public let versions: PolicyVersions
    let recorder: any AuditRecorder

    /// Runs `body` with a short-lived pool and audit writer.
    public static func run<T: Sendable>(
        configuration: PortcullisConfiguration, logger: Logger, _ body: @Sendable (PolicyAdministration) async throws -> T
    ) async throws -> T {
        try await CommandRuntime.withDatabaseAndAudit(configuration: configuration, logger: logger) { database, audit in
            try await body(
                PolicyAdministration(
                    versions: PolicyVersions(client: database.client, checker: PolicyWorkflow.checker, logger: logger),
                    recorder: audit))
        }
    }

    /// Checks the bundle in `directory` and makes it the active version. `author` defaults to
    /// the OS account.
    public func push(directory: String, message: String, author: String?) async throws -> PolicyVersion {
        let author = author ?? CommandRuntime.operatorName
        do {
            let bundle = try PolicyBundle.read(directory: directory)
            let version = try await versions.push(bundle, author: author, message: message, origin: directory)
            record("policy.push", version: version)
            return version
        } catch {
            record("policy.push", refused: directory, error: error, author: author)
            throw error
        }
    }

    /// Makes version `number` active again, as a new history entry.
    public func rollback(to number: Int64, message: String?, author: String?) async throws -> PolicyVersion {
        let author = author ?? CommandRuntime.operatorName
        do {
            let version = try await versions.rollback(to: number, author: author, message: message)
            record("policy.rollback", version: version)
            return version
        } catch {
            record("policy.rollback", refused: "PolicyVersion::\"\(number)\"", error: error, author: author)
            throw error
        }
    }

    private func record(_ action: String, version: PolicyVersion) {
        recorder.record(
            AuditEvent(
                kind: .admin, principal: CommandRuntime.operatorPrincipal, authMethod: "cli", action: action,
                target: "PolicyVersion::\"\(version.number)\"", outcome: "applied", policyVersion: version.hash,
                details: Self.json(version)))
    }

    private func record(_ action: String, refused target: String, error: any Error, author: String) {
        struct Refusal: Encodable {
            var author: String
            var error: String
        }
        recorder.record(
            AuditEvent(
                kind: .admin, principal: CommandRuntime.operatorPrincipal, authMethod: "cli", action: action,
                target: target, outcome: "refused", details: Self.json(Refusal(author: author, error: "\(error)"))))
    }

    private static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
