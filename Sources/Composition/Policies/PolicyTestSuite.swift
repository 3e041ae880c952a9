import AccessModel
import Cedar
import Foundation
import Identity

/// The security team's policy tests (`policies/tests/*.yaml`, run by `portcullis policy test`):
/// requests with the decision, and optionally the determining policies, they must get.
///
/// ```yaml
/// role_parents: {dispatcher: [staff]}       # the role hierarchy, as the identity service holds it
/// cases:
///   - name: dispatchers read shipments
///     principal: {type: User, id: dana, roles: [dispatcher]}
///     action: GET
///     resource: {route: shipments, labels: {team: ops}}
///     context: {http: {path: /shipments/1}}   # partial; the rest takes documented defaults
///     expect: allow
///     policies: [dispatchers-read-shipments] # optional: exactly these determine the decision
/// ```
public struct PolicyTestFile: Sendable {
    public struct Case: Sendable {
        public let name: String
        /// Where the case starts, for reports.
        public let location: String
        public let request: PolicyRequest
        public let expected: Decision
        /// Compared as a set with the determining policies; nil means not checked.
        public let expectedPolicies: [String]?
    }

    public let path: String
    public let hierarchy: RoleHierarchy
    public let cases: [Case]

    /// Parses one test file; any error (YAML, unknown key, wrong type) rejects the whole file.
    public static func parse(_ text: String, path: String) throws(PolicyToolError) -> PolicyTestFile {
        guard let root = try PolicyRequestReader.compose(text, file: path) else {
            throw .invalidFile(.missing(Composition.SourceLocation(file: path, line: 1, column: 1), path: "cases", hint: "the file is empty"))
        }
        do throws(ConfigurationError) {
            var top = try MappingReader(root, path: "", file: path)
            let hierarchy = try PolicyRequestReader.hierarchy(&top)
            guard var entries = try top.mappings("cases") else { throw top.missing("cases", hint: "a list of test cases") }
            try top.finish()
            var cases: [Case] = []
            var names = Set<String>()
            for index in entries.indices {
                let location = entries[index].location
                guard let name = try entries[index].string("name") else { throw entries[index].missing("name", hint: "what the case checks") }
                guard names.insert(name).inserted else {
                    throw .invalidValue(location, path: entries[index].join("name"), reason: "another case is already named '\(name)'")
                }
                let request = try PolicyRequestReader.request(&entries[index])
                guard let expected = try entries[index].choice("expect", of: ExpectedDecision.self) else {
                    throw entries[index].missing("expect", hint: "allow or deny")
                }
                let policies = try entries[index].strings("policies")
                try entries[index].finish()
                cases.append(
                    Case(
                        name: name, location: location.description, request: request,
                        expected: expected == .allow ? .allow : .deny, expectedPolicies: policies))
            }
            return PolicyTestFile(path: path, hierarchy: hierarchy, cases: cases)
        } catch {
            throw .invalidFile(error)
        }
    }

    /// Every `*.yaml` / `*.yml` file directly in `directory`, in name order.
    public static func load(directory: String) throws(PolicyToolError) -> [PolicyTestFile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } catch {
            throw .unreadable("\(directory): cannot list the test directory")
        }
        guard !names.isEmpty else { throw .unreadable("\(directory): no *.yaml test files") }
        var files: [PolicyTestFile] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            files.append(try parse(try readText(path), path: path))
        }
        return files
    }
}

enum ExpectedDecision: String, CaseIterable {
    case allow, deny
}

/// The outcome of running test files against one policy set.
public struct PolicyTestReport: Sendable {
    public struct Failure: Sendable {
        public let file: String
        public let testCase: PolicyTestFile.Case
        public let response: Response
        /// Determining policies the case names that are not in the set at all.
        public let unknownPolicies: [String]
    }

    public let files: Int
    public let cases: Int
    public let failures: [Failure]

    public var passed: Bool { failures.isEmpty }

    /// Runs every case; a case fails when the decision differs, when the determining policies
    /// differ from the ones it names, or when it names a policy the set does not have.
    public static func run(_ files: [PolicyTestFile], policies: ToolPolicies) throws(PolicyToolError) -> PolicyTestReport {
        let ids = Set(policies.set.policies.map(\.id))
        var failures: [Failure] = []
        var count = 0
        for file in files {
            for testCase in file.cases {
                count += 1
                let (request, entities) = try testCase.request.cedar(hierarchy: file.hierarchy)
                let response = policies.authorizer.isAuthorized(request, entities: entities)
                let unknown = (testCase.expectedPolicies ?? []).filter { !ids.contains($0) }
                let policiesMatch = testCase.expectedPolicies.map { Set($0) == Set(response.reasons) } ?? true
                if response.decision != testCase.expected || !policiesMatch || !unknown.isEmpty {
                    failures.append(Failure(file: file.path, testCase: testCase, response: response, unknownPolicies: unknown))
                }
            }
        }
        return PolicyTestReport(files: files.count, cases: count, failures: failures)
    }

    /// The report people read: each failure with expected and actual decision, determining
    /// policies and evaluation errors, then a summary line.
    public var text: String {
        var lines: [String] = []
        for failure in failures {
            let c = failure.testCase
            let r = failure.response
            lines.append("FAIL \(c.location): \(c.name)")
            lines.append("  request:  \(c.request.principal.uid) \(c.request.summary)")
            lines.append("  expected: \(c.expected.rawValue)" + (c.expectedPolicies.map { " by [\(Self.list($0))]" } ?? ""))
            lines.append("  got:      \(r.decision.rawValue)" + " by [\(Self.list(r.reasons))]")
            if !failure.unknownPolicies.isEmpty { lines.append("  unknown policy ids in the case: \(Self.list(failure.unknownPolicies))") }
            for e in r.errors { lines.append("  error in \(e.policyID): \(e.error)") }
        }
        let failed = failures.count
        lines.append("\(failed == 0 ? "ok" : "FAILED"): \(cases - failed) of \(cases) cases passed in \(files) file\(files == 1 ? "" : "s")")
        return lines.joined(separator: "\n")
    }

    private static func list(_ ids: [String]) -> String { ids.isEmpty ? "" : ids.joined(separator: ", ") }
}
