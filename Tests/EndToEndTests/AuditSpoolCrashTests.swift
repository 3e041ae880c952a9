import Foundation
import TestSupport
import Testing

@testable import Audit

/// The crash test: a writer spooling (PostgreSQL unreachable) is killed with SIGKILL;
/// every event it had acknowledged as spooled must be readable from the spool afterwards.
@Suite struct AuditSpoolCrashTests {
    @Test(.timeLimit(.minutes(2)))
    func acknowledgedSpooledEventsSurviveSIGKILL() async throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: spool) }
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).yaml")
        try """
        audit:
          spool_directory: \(spool.path)
          batch_size: 200
          flush_interval: 5ms
        database:
          pool:
            connect_timeout: 200ms
        """.write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }

        let closedPort = try FreePort.reserve()
        let writer = try PortcullisProcess(
            ["audit", "load", "--events", "10000000", "--config", config.path],
            environment: [
                "PORTCULLIS_DATABASE_URL": "postgres://nobody@127.0.0.1:\(closedPort)/none?sslmode=disable",
                "PORTCULLIS_LOG_LEVEL": "critical",
            ])
        // Progress lines report `spooled=N` only after those N events were fsynced.
        func acknowledged() -> Int {
            writer.standardOutput.split(separator: "\n").compactMap { line -> Int? in
                guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("spooled=") }) else { return nil }
                return Int(field.dropFirst("spooled=".count))
            }.max() ?? 0
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while acknowledged() < 5_000 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        writer.signal(SIGKILL)
        _ = try await writer.wait()
        let acked = acknowledged()
        #expect(acked >= 5_000, "the writer never spooled enough; stderr: \(writer.standardError)")

        let files = try AuditSpool(directory: spool)
        var recovered = 0
        var ids = Set<UUID>()
        for segment in files.segments() {
            for batch in try files.batches(in: segment).batches {
                recovered += batch.count
                ids.formUnion(batch.map(\.event.id))
            }
        }
        #expect(recovered >= acked)
        #expect(ids.count == recovered, "no event is spooled twice")
    }
}
