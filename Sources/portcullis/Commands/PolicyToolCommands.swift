import AccessModel
import ArgumentParser
import Composition
import Foundation
import Identity
import Tokens

/// `portcullis policy test|explain|diff`: the security team's review loop (docs/policies.md).
/// Exit status 2 means the input could not be used (unreadable, YAML error, policies that do
/// not parse or validate); the error goes to stderr.
extension PolicyCommand {
    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the policy tests in <dir>/tests/*.yaml against the policies in <dir>.",
            discussion: "Exit status 1 when a case fails, 2 when a test file or the policies are invalid.")

        @Argument(help: "The policy directory.") var directory = "policies"
        @Option(help: "Test directory (default: <dir>/tests).") var tests: String?
        @Option(help: "Validate the policies against this Cedar schema first.") var schema: String?

        func run() async throws {
            let report = try PolicyToolExit.run {
                let policies = try ToolPolicies.load(directory, schema: schema)
                let files = try PolicyTestFile.load(directory: tests ?? (directory as NSString).appendingPathComponent("tests"))
                return try PolicyTestReport.run(files, policies: policies)
            }
            print(report.text)
            if !report.passed { throw ExitCode.failure }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Explain a decision: the policies that applied and why each other one did not.",
            discussion: """
                Give the request as a YAML/JSON file shaped like a test case (--request), as flags (--principal, --action, \
                --route, …), or as the request id of an audited decision (--request-id, needs the database).
                """)

        @OptionGroup var options: ConfigurationOptions
        @Option(help: "The policy directory (default: the configuration's policies.directory).") var policies: String?
        @Option(help: "Validate the policies against this Cedar schema first.") var schema: String?
        @Option(help: "A request file in the shape of a test case.") var request: String?
        @Option(name: .customLong("request-id"), help: "Explain this audited request.") var requestID: String?
        @Option(help: "Principal type: User, Service or Anonymous.") var principalType = "User"
        @Option(help: "Login or service name.") var principal: String?
        @Option(name: .customLong("role"), help: "A role granted to the principal (repeatable).") var roles: [String] = []
        @Option(name: .customLong("group"), help: "A group of the user (repeatable).") var groups: [String] = []
        @Option(name: .customLong("role-parent"), help: "Role hierarchy edge child=parent (repeatable).") var roleParents: [String] = []
        @Option(help: "The service's SPIFFE ID.") var spiffeID: String?
        @Option(help: "HTTP method.") var action = "GET"
        @Option(help: "Route id.") var route: String?
        @Option(name: .customLong("label"), help: "Route label key=value (repeatable).") var labels: [String] = []
        @Option(help: "Canonical host.") var host: String?
        @Option(help: "Canonical path.") var path: String?
        @Option(help: "Raw query.") var query: String?
        @Option(help: "Client IP address.") var clientIP: String?
        @Option(help: "mtls, token, session or none.") var authMethod: String?
        @Flag(help: "A second factor was completed.") var mfa = false
        @Option(help: "When the second factor (else the token) was obtained (RFC 3339).", transform: RFC3339.date(from:)) var authenticatedAt: Date?
        @Option(help: "Decision time (RFC 3339).", transform: RFC3339.date(from:)) var time: Date?

        func validate() throws {
            let byFlags = principal != nil || route != nil || principalType == "Anonymous"
            guard [request != nil, requestID != nil, byFlags].filter({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --request, --request-id, or the request as flags (--principal/--route)")
            }
            if byFlags && route == nil { throw ValidationError("--route is required") }
            guard PolicyRequest.PrincipalKind(rawValue: principalType) != nil else {
                throw ValidationError("--principal-type must be User, Service or Anonymous")
            }
            guard PolicyRequest.methods.contains(action) else {
                throw ValidationError("--action must be one of \(PolicyRequest.methods.joined(separator: ", "))")
            }
        }

        func run() async throws {
            let (configuration, logger) = try options.load()
            let directory = policies ?? configuration.policies.directory
            let loaded = try PolicyToolExit.run { try ToolPolicies.load(directory, schema: schema) }
            let report: PolicyExplainReport
            if let requestID {
                report = try await PolicyToolExit.run {
                    try await PolicyExplainReport.explain(requestID: requestID, policies: loaded, configuration: configuration, logger: logger)
                }
            } else if let request {
                report = try PolicyToolExit.run { try PolicyExplainReport.explain(file: request, policies: loaded) }
            } else {
                let (built, hierarchy) = try flagRequest()
                report = try PolicyToolExit.run { try PolicyExplainReport.explain(built, hierarchy: hierarchy, policies: loaded) }
            }
            print(report.text)
        }

        private func flagRequest() throws -> (PolicyRequest, RoleHierarchy) {
            func pairs(_ values: [String], _ flag: String) throws -> [(String, String)] {
                try values.map { value in
                    guard let eq = value.firstIndex(of: "="), eq != value.startIndex else {
                        throw ValidationError("\(flag) expects key=value, got '\(value)'")
                    }
                    return (String(value[..<eq]), String(value[value.index(after: eq)...]))
                }
            }
            var principal = PolicyRequest.Principal(kind: PolicyRequest.PrincipalKind(rawValue: principalType)!, id: self.principal ?? "anonymous")
            principal.roles = roles
            principal.groups = groups
            principal.spiffeID = spiffeID
            var request = PolicyRequest(principal: principal, method: action, route: route!)
            request.labels = Dictionary(try pairs(labels, "--label"), uniquingKeysWith: { _, last in last })
            request.host = host ?? request.host
            request.path = path ?? request.path
            request.query = query ?? request.query
            request.clientIP = clientIP ?? request.clientIP
            if let authMethod {
                guard let method = PolicyRequest.authMethod(named: authMethod) else {
                    throw ValidationError("--auth-method expects mtls, token, session or none, got '\(authMethod)'")
                }
                request.authMethod = method
            }
            request.mfa = mfa
            request.authenticatedAt = authenticatedAt
            request.now = time ?? request.now
            let parents = Dictionary(grouping: try pairs(roleParents, "--role-parent"), by: \.0).mapValues { $0.map(\.1) }
            return (request, RoleHierarchy(parents: parents, groups: []))
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every request whose decision changes between two policy directories.",
            discussion: """
                The corpus is the distinct (principal, method, route, path, auth method) of the audit log's last --days days \
                (needs the database), or --requests FILE: one JSON request per line, shaped like a test case. \
                Exit status 0 when nothing changes, 1 when some decision changes, 2 on invalid input.
                """)

        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The current policy directory.") var old: String
        @Argument(help: "The proposed policy directory.") var new: String
        @Option(help: "audit (default), or a JSON-lines file of requests.") var requests = "audit"
        @Option(help: "Days of audit log to replay.") var days = 7
        @Option(help: "Validate both sets against this Cedar schema first.") var schema: String?

        func validate() throws {
            guard (1...3660).contains(days) else { throw ValidationError("--days must be between 1 and 3660") }
        }

        func run() async throws {
            let (before, after) = try PolicyToolExit.run { (try ToolPolicies.load(old, schema: schema), try ToolPolicies.load(new, schema: schema)) }
            let report: PolicyDiffReport
            if requests == "audit" {
                let (configuration, logger) = try options.load()
                let (entries, notes) = try await PolicyToolExit.run {
                    try await PolicyDiffReport.auditEntries(days: days, configuration: configuration, logger: logger)
                }
                report = try PolicyToolExit.run {
                    try PolicyDiffReport.compare(entries, old: before, new: after, corpus: "the audit log of the last \(days) days", notes: notes)
                }
            } else {
                report = try PolicyToolExit.run {
                    try PolicyDiffReport.compare(try PolicyDiffReport.entries(file: requests), old: before, new: after, corpus: requests)
                }
            }
            print(report.text)
            if !report.changes.isEmpty { throw ExitCode.failure }
        }
    }
}

/// Turns a `PolicyToolError` into its message on stderr and exit status 2.
enum PolicyToolExit {
    static func run<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as PolicyToolError { throw PolicyFiles.fail(error.description) }
    }

    static func run<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as PolicyToolError { throw PolicyFiles.fail(error.description) }
    }
}
