import Cedar
import Database
import Foundation
import Logging
import PolicyStore
import PostgresNIO
import Synchronization
import TestSupport
import Testing

/// The policy store on a real PostgreSQL: checks before anything becomes active, append-only
/// history, rollback as a new entry, and the feed that keeps a process on the active version.
@Suite struct PolicyStoreTests {
    static let schema = PolicyBundle.File(name: "schema.cedarschema", text: PolicyFixtures.schema)

    static func bundle(_ policies: [String: String], schema: PolicyBundle.File? = schema, tests: [String: String] = [:]) throws -> PolicyBundle {
        try PolicyBundle(
            policies: policies.map { .init(name: $0.key, text: $0.value) }, schema: schema,
            tests: tests.map { .init(name: $0.key, text: $0.value) })
    }

    struct Store {
        let database: Database
        let versions: PolicyVersions
        let logger: Logger

        func count(_ table: String) async throws -> Int {
            var count = 0
            for try await value in try await database.client.query("SELECT count(*) FROM \(unescaped: table)").decode(Int.self) { count = value }
            return count
        }
    }

    static func withStore(_ body: @Sendable (Store) async throws -> Void) async throws {
        try await TestDatabase.withFreshDatabase { url in
            var logger = Logger(label: "policy-store-test")
            logger.logLevel = .critical
            let database = Database(url: url, pool: .init(maximumConnections: 4), logger: logger)
            try await database.withRunning(logger: logger) { client in
                _ = try await Migrator(client: client, logger: logger).apply(try Migration.bundled())
                try await body(
                    Store(
                        database: database, versions: PolicyVersions(client: client, checker: PolicyChecker(testRunner: nil), logger: logger),
                        logger: logger))
            }
        }
    }

    static func refusal(_ body: () async throws -> PolicyVersion) async -> PolicyCheckReport? {
        do {
            _ = try await body()
            return nil
        } catch {
            if case let .refused(report)? = error as? PolicyStoreError { return report }
            Issue.record("expected a refusal, got \(error)")
            return nil
        }
    }

    @Test func aSetWithATypeErrorIsRefusedAndChangesNothing() async throws {
        try await Self.withStore { store in
            let first = try await store.versions.push(
                try Self.bundle(["open.cedar": PolicyFixtures.opens("a")]), author: "dana", message: "open /a",
                origin: "policies")
            #expect(first.number == 1 && first.active)
            let typeError = """
                @id("typo")
                permit (principal, action, resource == Route::"shipments")
                when { context.http.path > 3 };
                """
            let report = try #require(
                await Self.refusal {
                    try await store.versions.push(
                        try Self.bundle(["open.cedar": PolicyFixtures.opens("b"), "typo.cedar": typeError]), author: "dana",
                        message: "broken", origin: "work/policies")
                })
            #expect(!report.passed)
            #expect(report.errors.count == 1)
            #expect(report.errors.first?.file == "work/policies/typo.cedar")
            #expect(report.errors.first?.line == 3)
            #expect(report.errors.first?.policy == "typo")
            #expect(try await store.count("policy_versions") == 1)
            #expect(try await store.count("policy_files") == 1)
            #expect(try await store.versions.active()?.version == first)
        }
    }

    @Test(arguments: [
        ("parse", ["bad.cedar": "permit (principal, action, resource) when { ;"], true, [String: String](), "bad.cedar:1:"),
        ("no schema", ["open.cedar": PolicyFixtures.opens("a")], false, [:], "no schema"),
        ("empty set", [:], true, [:], "no *.cedar files"),
        ("untested", ["open.cedar": PolicyFixtures.opens("a")], true, ["open.yaml": "cases: []\n"], "no policy test runner"),
    ])
    func everyOtherFailureIsRefusedToo(
        name: String, policies: [String: String], withSchema: Bool, tests: [String: String], expected: String
    )
        async throws
    {
        try await Self.withStore { store in
            let bundle = try Self.bundle(policies, schema: withSchema ? Self.schema : nil, tests: tests)
            let report = try #require(
                await Self.refusal {
                    try await store.versions.push(bundle, author: "dana", message: name, origin: "policies")
                })
            #expect(report.description.contains(expected), "\(report)")
            #expect(try await store.count("policy_versions") == 0)
            #expect(try await store.versions.active() == nil)
        }
    }

    @Test func badFileNamesAndEmptyMessagesAreRefused() async throws {
        #expect(throws: PolicyStoreError.self) { try Self.bundle(["../escape.cedar": PolicyFixtures.opens("a")]) }
        #expect(throws: PolicyStoreError.self) { try Self.bundle(["notes.txt": PolicyFixtures.opens("a")]) }
        #expect(throws: PolicyStoreError.self) { try Self.bundle(["a.cedar": PolicyFixtures.opens("a")], tests: [".hidden.yaml": ""]) }
        try await Self.withStore { store in
            await #expect(throws: PolicyStoreError.self) {
                try await store.versions.push(try Self.bundle(["a.cedar": PolicyFixtures.opens("a")]), author: "dana", message: "  ", origin: "p")
            }
            let stored = try await store.count("policy_versions")
            #expect(stored == 0)
        }
    }

    @Test func rollbackRestoresAnOldVersionAsANewEntry() async throws {
        try await Self.withStore { store in
            let v1 = try await store.versions.push(
                try Self.bundle(["open.cedar": PolicyFixtures.opens("a")]), author: "dana", message: "one", origin: "p")
            let v2 = try await store.versions.push(
                try Self.bundle(["open.cedar": PolicyFixtures.opens("b")]), author: "erin", message: "two", origin: "p")
            #expect(v1.hash != v2.hash)
            let v3 = try await store.versions.rollback(to: 1, author: "frank", message: nil)
            #expect(v3.number == 3 && v3.rollbackOf == 1 && v3.hash == v1.hash && v3.active && v3.message == "rollback to version 1")
            let restored = try await store.versions.show(3)
            #expect(restored.bundle == (try await store.versions.show(1)).bundle)
            await #expect(throws: PolicyStoreError.self) { try await store.versions.rollback(to: 1, author: "frank", message: nil) }
            await #expect(throws: PolicyStoreError.self) { try await store.versions.rollback(to: 9, author: "frank", message: nil) }
            let history = try await store.versions.history()
            #expect(history.map(\.number) == [3, 2, 1])
            #expect(history.map(\.active) == [true, false, false])
            #expect(history.map(\.author) == ["frank", "erin", "dana"])
        }
    }

    @Test func historyCannotBeRewritten() async throws {
        try await Self.withStore { store in
            _ = try await store.versions.push(try Self.bundle(["open.cedar": PolicyFixtures.opens("a")]), author: "dana", message: "one", origin: "p")
            for statement in [
                "DELETE FROM policy_versions", "UPDATE policy_versions SET message = 'x'", "DELETE FROM policy_files",
                "UPDATE policy_files SET content = ''", "TRUNCATE policy_files", "DELETE FROM policy_active",
            ] {
                await #expect(throws: PSQLError.self, "\(statement)") {
                    try await store.database.client.query(PostgresQuery(unsafeSQL: statement))
                }
            }
            #expect(try await store.count("policy_versions") == 1)
            #expect(try await store.count("policy_files") == 1)
        }
    }

    /// A process whose LISTEN connection drops misses the notification of a push made meanwhile;
    /// the resync on reconnect must still bring it to the new version.
    @Test func theFeedResyncsAfterMissingANotification() async throws {
        try await Self.withStore { store in
            _ = try await store.versions.push(try Self.bundle(["open.cedar": PolicyFixtures.opens("a")]), author: "dana", message: "one", origin: "p")
            let enforced = Mutex<[String]>([])
            let reconnecting = Mutex(true)
            let database = store.database
            let logger = store.logger
            let feed = PolicyFeed(
                versions: store.versions,
                openConnection: {
                    while !reconnecting.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
                    return try await database.openDedicatedConnection(logger: logger)
                }, logger: logger
            ) { set, version in
                enforced.withLock { $0.append(version.hash + ":" + set.policies.map(\.id).joined(separator: ",")) }
            }
            try await feed.synchronize()
            let running = Task { try await feed.run() }
            defer { running.cancel() }
            try await Self.waitUntil("the feed to listen") { try await Self.listeners(store) == 1 && feed.state.synchronized }

            reconnecting.withLock { $0 = false }
            var terminated = 0
            for try await done in try await store.database.client.query(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%portcullis_policies%'
                """
            ).decode(Bool.self) where done { terminated += 1 }
            #expect(terminated == 1)
            try await Self.waitUntil("the feed to notice") { !feed.state.synchronized }
            let v2 = try await store.versions.push(
                try Self.bundle(["open.cedar": PolicyFixtures.opens("b")]), author: "dana", message: "two", origin: "p")
            try await Task.sleep(for: .milliseconds(200))
            #expect(feed.state.enforced?.number == 1, "nothing can have told the feed yet")

            reconnecting.withLock { $0 = true }
            try await Self.waitUntil("the resync") { feed.state.enforced?.number == 2 }
            #expect(feed.state.synchronized)
            #expect(enforced.withLock { $0 }.last == v2.hash + ":open-b")
            running.cancel()
            _ = await running.result
        }
    }

    /// A version that this process cannot parse (written around the checks) is refused; the
    /// set in force stays, and the next good version is taken.
    @Test func theFeedKeepsTheSetInForceWhenTheActiveVersionDoesNotParse() async throws {
        try await Self.withStore { store in
            let v1 = try await store.versions.push(
                try Self.bundle(["open.cedar": PolicyFixtures.opens("a")]), author: "dana", message: "one", origin: "p")
            let enforced = Mutex<[Int64]>([])
            let database = store.database
            let logger = store.logger
            let feed = PolicyFeed(
                versions: store.versions, openConnection: { try await database.openDedicatedConnection(logger: logger) },
                logger: logger
            ) { _, version in enforced.withLock { $0.append(version.number) } }
            try await feed.synchronize()
            let running = Task { try await feed.run() }
            defer { running.cancel() }
            try await Self.waitUntil("the feed to listen") { try await Self.listeners(store) == 1 && feed.state.synchronized }

            try await store.database.client.withTransaction(logger: logger) { connection in
                try await connection.query(
                    """
                    INSERT INTO policy_versions (version, content_hash, schema_name, schema_text, author, message, validation, tests)
                    VALUES (2, \(String(repeating: "0", count: 64)), 'schema.cedarschema', '', 'sql', 'around the checks', '{"warnings":[]}', '{"files":0,"cases":0,"failures":[]}')
                    """, logger: logger)
                try await connection.query("INSERT INTO policy_files VALUES (2, 'policy', 'bad.cedar', 'permit (')", logger: logger)
                try await connection.query("UPDATE policy_active SET version = 2", logger: logger)
            }
            try await Self.waitUntil("the refusal") { feed.state.refused?.number == 2 }
            #expect(feed.state.refused?.reason.contains("policy-store/v2/bad.cedar:1:") == true)
            // The version in force is still v1 (its `active` flag may have been re-read as false:
            // the store's pointer has moved to the refused version).
            #expect(feed.state.enforced?.number == v1.number && feed.state.enforced?.hash == v1.hash)
            #expect(enforced.withLock { $0 } == [1])

            let v3 = try await store.versions.push(
                try Self.bundle(["open.cedar": PolicyFixtures.opens("c")]), author: "dana", message: "three", origin: "p")
            try await Self.waitUntil("version 3") { feed.state.enforced?.number == 3 }
            #expect(feed.state.refused == nil)
            #expect(enforced.withLock { $0 } == [1, v3.number])
            running.cancel()
            _ = await running.result
        }
    }

    static func listeners(_ store: Store) async throws -> Int {
        var count = 0
        for try await value in try await store.database.client.query(
            """
            SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%portcullis_policies%'
            """
        ).decode(Int.self) { count = value }
        return count
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw PortcullisProcess.Failure(description: "timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
