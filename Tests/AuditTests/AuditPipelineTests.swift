import Database
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Audit

@Suite struct AuditPipelineTests {
    func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw PortcullisProcess.Failure(description: "timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func event(_ n: Int) -> AuditEvent {
        AuditEvent(
            kind: .access, requestID: "r\(n)", principal: #"User::"alice""#, action: "GET", route: "shipments",
            target: "/v1/shipments/\(n)", outcome: n % 3 == 0 ? "deny" : "allow")
    }

    /// The issue's outage test: PostgreSQL stops mid-stream, events keep coming, nothing is lost
    /// or duplicated once it is back, and fail_closed refuses traffic while the spool is over its limit.
    @Test(.timeLimit(.minutes(3)))
    func eventsRecordedWhileTheDatabaseIsDownArriveAfterItReturns() async throws {
        let cluster = try PrivateCluster()
        defer { cluster.destroy() }
        var logger = Logger(label: "audit-pipeline-test")
        logger.logLevel = .critical  // the outage makes the pool log every refused connection
        let database = Database(url: cluster.url, pool: .init(maximumConnections: 4, connectTimeout: .seconds(1)), logger: logger)
        var configuration = AuditPipeline.Configuration(
            spoolDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)"))
        configuration.flushInterval = .milliseconds(20)
        // The default: with 1 s, a loaded two-core CI machine missed it on write after write, and
        // the replays (bounded the same way) kept missing it past the test's minute.
        configuration.writeTimeout = .seconds(5)
        configuration.batchSize = 100
        configuration.spoolLimitBytes = 1  // any spooled byte is "over the limit"
        defer { try? FileManager.default.removeItem(at: configuration.spoolDirectory) }
        let pipeline = AuditPipeline(configuration: configuration, store: AuditStore(client: database.client, logger: logger), logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await database.run() }
            _ = try await Migrator(client: database.client, logger: logger).apply(try Migration.bundled())
            group.addTask { try await pipeline.run() }

            for n in 0..<300 { #expect(pipeline.record(event(n))) }
            // Under a loaded machine a batch may miss its write timeout and be spooled; it then
            // arrives by replay, and the pipeline accepts traffic again once the spool drains.
            try await waitUntil("the first events to be stored") {
                let figures = pipeline.statistics
                return figures.written + figures.replayed == 300
            }
            try await waitUntil("the pipeline to accept traffic") { pipeline.isAcceptingTraffic }

            try cluster.stop()
            for n in 300..<700 { #expect(pipeline.record(event(n))) }
            let spooledBefore = pipeline.statistics.spooled
            try await waitUntil("events to be spooled") { pipeline.statistics.spooled - spooledBefore >= 400 }
            #expect(!pipeline.isAcceptingTraffic, "fail_closed must refuse traffic while the spool is over its limit")

            try cluster.start()
            try await waitUntil("the spool to be replayed") { pipeline.statistics.replayed == pipeline.statistics.spooled }
            try await waitUntil("the pipeline to accept traffic again") { pipeline.isAcceptingTraffic }
            group.cancelAll()
        }

        try await TestDatabase.withClient(cluster.url) { client in
            var rows = try await client.query("SELECT count(*), count(DISTINCT id) FROM audit_events WHERE kind = 'access'")
                .decode((Int64, Int64).self).makeAsyncIterator()
            let counts = try await rows.next()
            #expect(counts?.0 == 700 && counts?.1 == 700)
            let report = try await AuditVerifier(store: AuditStore(client: client, logger: logger)).verify()
            #expect(report.isIntact, "\(report.findings)")
            // The access events, after the writer's start record (and its stop, when cancellation let it be stored).
            #expect(report.records >= 701)
        }
    }
}

@Suite struct AuditExportSinkTests {
    @Test func exportsEveryRecordAsVersionedJSONLinesAndRotatesBySize() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("audit.jsonl").path
        let sink = AuditExportSink(.file(path: path, maxBytes: 4_000, keep: 2))
        var chain = HashChain()
        var exported: [UUID] = []
        for batch in 0..<10 {
            let records = (0..<5).map { i in
                chain.append(
                    AuditEvent(
                        kind: .access, principal: #"User::"alice""#, action: "GET", route: "r",
                        target: "/x/\(batch)/\(i)", outcome: "allow"))
            }
            exported += records.map(\.event.id)
            try sink.export(records)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"])
        // Newest file holds the newest records; every line is a v1 object naming its event.
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(!lines.isEmpty)
        for (line, id) in zip(lines.reversed(), exported.reversed()) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["v"] as? Int == 1)
            #expect(object?["id"] as? String == id.uuidString.lowercased())
            #expect(object?.keys.count == AuditExportFormat.columns.count)
        }
        for file in files {
            let size = (try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(file).path)[.size] as? Int) ?? 0
            #expect(size <= 4_000)
        }
    }
}

@Suite struct AuditFailClosedTests {
    /// Database unreachable and spool unwritable: the events are lost, and fail_closed must
    /// stop admitting traffic at once even though the in-memory queue still has room.
    @Test(.timeLimit(.minutes(1)))
    func refusesTrafficWhenEventsCanBeStoredNowhere() async throws {
        var logger = Logger(label: "audit-fail-closed-test")
        logger.logLevel = .critical
        let closedPort = try FreePort.reserve()
        let url = try DatabaseURL("postgres://nobody@127.0.0.1:\(closedPort)/none?sslmode=disable")
        let database = Database(url: url, pool: .init(connectTimeout: .milliseconds(100)), logger: logger)
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: spool) }
        var configuration = AuditPipeline.Configuration(spoolDirectory: spool)
        configuration.flushInterval = .milliseconds(10)
        configuration.writeTimeout = .milliseconds(200)
        let pipeline = AuditPipeline(configuration: configuration, store: AuditStore(client: database.client, logger: logger), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await database.run() }
            group.addTask { try await pipeline.run() }
            // Let the writer create its spool, then make the spool impossible to write to.
            let deadline = ContinuousClock.now + .seconds(20)
            while !FileManager.default.fileExists(atPath: spool.path) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            try FileManager.default.removeItem(at: spool)
            try Data().write(to: spool)  // a file where the directory was
            #expect(pipeline.isAcceptingTraffic)
            #expect(pipeline.record(AuditEvent(kind: .access, action: "GET", outcome: "allow")))
            while pipeline.statistics.dropped == 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(pipeline.statistics.dropped == 1)
            #expect(!pipeline.isAcceptingTraffic)
            group.cancelAll()
        }
    }
}
