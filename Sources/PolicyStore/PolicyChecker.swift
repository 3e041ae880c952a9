import Cedar

/// Runs a bundle's tests (`tests/*.yaml`) against its parsed policy set and schema. Supplied by
/// the policy test runner (`portcullis policy test`); the store only needs the outcome.
public typealias PolicyTestRunner =
    @Sendable (_ tests: [PolicyBundle.File], _ policies: PolicySet, _ schema: CedarSchema) async throws
    -> PolicyTestSummary

/// What the tests of a version reported when it was checked.
public struct PolicyTestSummary: Sendable, Equatable, Codable {
    /// Test files run.
    public var files: Int
    /// Cases run.
    public var cases: Int
    /// One readable line per failed case (file, case, expected against got).
    public var failures: [String]

    public init(files: Int, cases: Int, failures: [String]) {
        self.files = files
        self.cases = cases
        self.failures = failures
    }

    public static let none = PolicyTestSummary(files: 0, cases: 0, failures: [])
}

/// The outcome of checking a bundle before it may become active: parse and schema errors,
/// validator warnings, and the tests' summary.
public struct PolicyCheckReport: Sendable, Equatable, Codable, CustomStringConvertible {
    /// One diagnostic, located in its file.
    public struct Finding: Sendable, Equatable, Codable, CustomStringConvertible {
        public let file: String
        public let line: Int
        public let column: Int
        /// The policy id, when the finding is about one policy.
        public let policy: String?
        public let message: String

        init(_ location: SourceLocation, policy: String? = nil, _ message: String) {
            file = location.file
            line = location.line
            column = location.column
            self.policy = policy
            self.message = message
        }

        public var description: String {
            "\(file):\(line):\(column): " + (policy.map { "policy `\($0)`: " } ?? "") + message
        }
    }

    public var errors: [Finding] = []
    public var warnings: [Finding] = []
    public var tests: PolicyTestSummary = .none

    /// Whether the bundle may become active: no error and no failed test.
    public var passed: Bool { errors.isEmpty && tests.failures.isEmpty }

    public var description: String {
        var lines = errors.map { "error: \($0)" } + warnings.map { "warning: \($0)" } + tests.failures.map { "test failed: \($0)" }
        lines.append(
            passed
                ? "ok: \(tests.cases) test case\(tests.cases == 1 ? "" : "s") passed in \(tests.files) file\(tests.files == 1 ? "" : "s")"
                : "failed: \(errors.count) error\(errors.count == 1 ? "" : "s"), \(tests.failures.count) failed test case\(tests.failures.count == 1 ? "" : "s")"
        )
        return lines.joined(separator: "\n")
    }
}

/// The checks every version must pass before it becomes active, whether pushed or rolled back
/// to: the policy files parse, a schema is present and they validate against it (Cedar's strict
/// mode), and the bundle's tests pass. A bundle with tests is refused when no test runner is
/// available rather than shipped untested.
public struct PolicyChecker: Sendable {
    let testRunner: PolicyTestRunner?

    public init(testRunner: PolicyTestRunner?) {
        self.testRunner = testRunner
    }

    /// `origin` names the bundle in file locations (a directory, or `policy-store/v7`).
    public func check(_ bundle: PolicyBundle, origin: String) async -> PolicyCheckReport {
        var report = PolicyCheckReport()
        let start = SourceLocation(file: origin, line: 1, column: 1)
        guard !bundle.policies.isEmpty else {
            report.errors.append(.init(start, "no *.cedar files: an empty set would deny every request"))
            return report
        }
        let set: PolicySet
        switch bundle.parse(origin: origin) {
        case let .success(parsed): set = parsed
        case let .failure(failure):
            report.errors = failure.errors.map { .init($0.location, $0.message) }
            return report
        }
        guard let schemaFile = bundle.schema else {
            report.errors.append(
                .init(start, "no schema: add \(PolicyBundle.schemaNames[0]) (or \(PolicyBundle.schemaNames[1])) to validate against"))
            return report
        }
        let schema: CedarSchema
        do throws(SchemaError) {
            let name = PolicyBundle.path(origin, schemaFile.name)
            schema =
                schemaFile.name.hasSuffix(".json")
                ? try CedarSchema.parseJSON(schemaFile.text, file: name)
                : try CedarSchema.parse(schemaFile.text, file: name)
        } catch {
            report.errors.append(.init(error.location, "schema: \(error.message)"))
            return report
        }
        for diagnostic in Validator(schema: schema).validate(set) {
            let finding = PolicyCheckReport.Finding(diagnostic.location, policy: diagnostic.policyID, diagnostic.message)
            if diagnostic.severity == .error { report.errors.append(finding) } else { report.warnings.append(finding) }
        }
        guard report.errors.isEmpty, !bundle.tests.isEmpty else { return report }
        guard let testRunner else {
            report.errors.append(
                .init(
                    SourceLocation(file: PolicyBundle.path(origin, PolicyBundle.testDirectory), line: 1, column: 1),
                    "\(bundle.tests.count) test file\(bundle.tests.count == 1 ? "" : "s") present but this build has no policy test runner"))
            return report
        }
        do {
            report.tests = try await testRunner(bundle.tests, set, schema)
        } catch {
            report.errors.append(
                .init(
                    SourceLocation(file: PolicyBundle.path(origin, PolicyBundle.testDirectory), line: 1, column: 1),
                    "the tests could not run: \(error)"))
        }
        return report
    }
}
