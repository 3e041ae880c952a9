import Database
import Foundation
import Logging
import PostgresNIO

/// One entry of the policy history.
public struct PolicyVersion: Sendable, Equatable, Codable {
    /// 1, 2, 3…: the order in which versions were made active.
    public let number: Int64
    /// The content hash gateways report (`PolicyBundle.version`).
    public let hash: String
    public let author: String
    public let message: String
    public let createdAt: Date
    /// The version this entry restored, for rollbacks.
    public let rollbackOf: Int64?
    /// Whether it is the version in force now.
    public let active: Bool
    /// Validator warnings when it was checked (a version with errors is never stored).
    public let warnings: [PolicyCheckReport.Finding]
    public let tests: PolicyTestSummary

    enum CodingKeys: String, CodingKey {
        case number = "version"
        case hash, author, message
        case createdAt = "created_at"
        case rollbackOf = "rollback_of"
        case active, warnings, tests
    }
}

/// A version with its files.
public struct StoredPolicyVersion: Sendable, Equatable {
    public let version: PolicyVersion
    public let bundle: PolicyBundle

    /// How its files are named in messages: `policy-store/v7/<file>`.
    public var origin: String { "policy-store/v\(version.number)" }
}

/// The versioned policy store in PostgreSQL (migration 0005): append-only history, one active
/// version, a NOTIFY on `channel` whenever the active version changes.
///
/// Nothing becomes active without passing `checker` — pushed sets and the old versions a
/// rollback restores alike — and a refused set changes nothing.
public struct PolicyVersions: Sendable {
    /// The NOTIFY channel the migration's trigger publishes on.
    public static let channel = "portcullis_policies"

    let client: PostgresClient
    let checker: PolicyChecker
    let logger: Logger

    public init(client: PostgresClient, checker: PolicyChecker, logger: Logger) {
        self.client = client
        self.checker = checker
        self.logger = logger
    }

    /// Checks `bundle` and, if it passes, stores it as the next version and makes it active.
    /// `origin` names the bundle in the report's locations (the pushed directory).
    public func push(_ bundle: PolicyBundle, author: String, message: String, origin: String) async throws(PolicyStoreError) -> PolicyVersion {
        try Self.checkField("author", author, limit: 200)
        try Self.checkField("message", message, limit: 2000)
        let report = await checker.check(bundle, origin: origin)
        guard report.passed else { throw .refused(report) }
        return try await activate(bundle, report: report, author: author, message: message, rollbackOf: nil)
    }

    /// Makes an old version active again as a new entry (a copy of its files, `rollback_of` set),
    /// after checking it again with this build's checks.
    public func rollback(to number: Int64, author: String, message: String?) async throws(PolicyStoreError) -> PolicyVersion {
        let message = message ?? "rollback to version \(number)"
        try Self.checkField("author", author, limit: 200)
        try Self.checkField("message", message, limit: 2000)
        let target = try await show(number)
        if let active = try await active(), active.version.hash == target.version.hash { throw .alreadyActive(number) }
        let report = await checker.check(target.bundle, origin: target.origin)
        guard report.passed else { throw .refused(report) }
        return try await activate(target.bundle, report: report, author: author, message: message, rollbackOf: number)
    }

    /// Versions, newest first: at most `limit`, older than `before` when given.
    public func history(before: Int64? = nil, limit: Int = 50) async throws(PolicyStoreError) -> [PolicyVersion] {
        let limit = Int64(max(1, min(limit, 1000)))
        return try await run {
            try await versions(
                client.query(
                    "\(unescaped: Self.select) WHERE v.version < \(before ?? Int64.max) ORDER BY v.version DESC LIMIT \(limit)", logger: logger))
        }
    }

    /// One version and its files.
    public func show(_ number: Int64) async throws(PolicyStoreError) -> StoredPolicyVersion {
        let loaded = try await run { () async throws -> StoredPolicyVersion? in
            guard let version = try await versions(client.query("\(unescaped: Self.select) WHERE v.version = \(number)", logger: logger)).first else {
                return nil
            }
            var schema: PolicyBundle.File?
            for try await (name, text) in try await client.query(
                "SELECT schema_name, schema_text FROM policy_versions WHERE version = \(number)", logger: logger
            ).decode((String, String).self) {
                schema = PolicyBundle.File(name: name, text: text)
            }
            var policies: [PolicyBundle.File] = []
            var tests: [PolicyBundle.File] = []
            for try await (kind, name, content) in try await client.query(
                "SELECT kind, name, content FROM policy_files WHERE version = \(number)", logger: logger
            ).decode((String, String, String).self) {
                if kind == "policy" { policies.append(.init(name: name, text: content)) } else { tests.append(.init(name: name, text: content)) }
            }
            return StoredPolicyVersion(version: version, bundle: try PolicyBundle(policies: policies, schema: schema, tests: tests))
        }
        guard let loaded else { throw .notFound(number) }
        return loaded
    }

    /// The version in force, nil before the first push.
    public func active() async throws(PolicyStoreError) -> StoredPolicyVersion? {
        let number = try await run { () async throws -> Int64? in
            var number: Int64?
            for try await value in try await client.query("SELECT version FROM policy_active", logger: logger).decode(Int64?.self) {
                number = value
            }
            return number
        }
        guard let number else { return nil }
        return try await show(number)
    }

    // MARK: Internals

    private static let select = """
        SELECT v.version, v.content_hash, v.author, v.message, v.created_at, v.rollback_of, v.validation::text, v.tests::text,
               coalesce(a.version = v.version, false)
        FROM policy_versions v CROSS JOIN policy_active a
        """

    private func versions(_ rows: PostgresRowSequence) async throws -> [PolicyVersion] {
        var result: [PolicyVersion] = []
        let decoder = JSONDecoder()
        for try await (number, hash, author, message, createdAt, rollbackOf, validation, tests, active) in rows.decode(
            (Int64, String, String, String, Date, Int64?, String, String, Bool).self)
        {
            let checked = try decoder.decode(StoredValidation.self, from: Data(validation.utf8))
            result.append(
                PolicyVersion(
                    number: number, hash: hash, author: author, message: message, createdAt: createdAt, rollbackOf: rollbackOf,
                    active: active, warnings: checked.warnings,
                    tests: try decoder.decode(PolicyTestSummary.self, from: Data(tests.utf8))))
        }
        return result
    }

    /// The `validation` column.
    private struct StoredValidation: Codable { var warnings: [PolicyCheckReport.Finding] }

    private func activate(
        _ bundle: PolicyBundle, report: PolicyCheckReport, author: String, message: String,
        rollbackOf: Int64?
    ) async throws(PolicyStoreError) -> PolicyVersion {
        let logger = self.logger
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let validation = String(decoding: (try? encoder.encode(StoredValidation(warnings: report.warnings))) ?? Data(), as: UTF8.self)
        let tests = String(decoding: (try? encoder.encode(report.tests)) ?? Data(), as: UTF8.self)
        // The checks refuse a bundle without a schema, so every stored version has one.
        guard let schema = bundle.schema else { throw .invalidBundle("a version needs a schema") }
        let number = try await run {
            try await client.withTransaction(logger: logger) { connection in
                // The single pointer row serialises writers: versions are numbered without gaps or races.
                try await connection.query("SELECT version FROM policy_active FOR UPDATE", logger: logger)
                var next: Int64 = 1
                for try await value in try await connection.query(
                    "SELECT coalesce(max(version), 0) + 1 FROM policy_versions", logger: logger
                ).decode(Int64.self) { next = value }
                try await connection.query(
                    """
                    INSERT INTO policy_versions (version, content_hash, schema_name, schema_text, author, message, rollback_of, validation, tests)
                    VALUES (\(next), \(bundle.version), \(schema.name), \(schema.text), \(author), \(message), \(rollbackOf),
                            \(validation)::jsonb, \(tests)::jsonb)
                    """, logger: logger)
                for (kind, files) in [("policy", bundle.policies), ("test", bundle.tests)] {
                    for file in files {
                        try await connection.query(
                            "INSERT INTO policy_files (version, kind, name, content) VALUES (\(next), \(kind), \(file.name), \(file.text))",
                            logger: logger)
                    }
                }
                // The trigger on policy_active publishes the NOTIFY, delivered when this commits.
                try await connection.query(
                    "UPDATE policy_active SET version = \(next), activated_at = now(), activated_by = \(author)", logger: logger)
                return next
            }
        }
        return try await show(number).version
    }

    private func run<T>(_ body: () async throws -> T) async throws(PolicyStoreError) -> T {
        do {
            return try await body()
        } catch let error as PolicyStoreError {
            throw error
        } catch let error as PostgresTransactionError {
            throw .unavailable(PostgresErrorText.describe(error.closureError ?? error.commitError ?? error.beginError ?? error))
        } catch {
            throw .unavailable(PostgresErrorText.describe(error))
        }
    }

    private static func checkField(_ name: String, _ value: String, limit: Int) throws(PolicyStoreError) {
        guard !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .invalidField(name, "is required") }
        guard value.count <= limit else { throw .invalidField(name, "is longer than \(limit) characters") }
    }
}
