import Database
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing
import Tokens

@testable import Audit

/// Anchors outside the database (issue 24): a writer's signed start, checkpoints and clean stop
/// go to an append-only file, and `verify` holds the database to them. The attacks are those of
/// someone who can write PostgreSQL but not the anchor file: re-hash a chain after editing it and
/// delete its checkpoints, cut its tail with its checkpoints, or delete a whole chain.
@Suite struct AuditAnchorTests {
    let logger = Logger(label: "audit-anchor-test")
    let signer = TokenSigner(key: try! Ed25519SecretKey(seed: (0..<32).map { _ in UInt8.random(in: 0...255) }))

    /// Ten access events through a real pipeline that checkpoints and anchors, stopped cleanly;
    /// then `tamper` runs against the database, and `verify` is asked with and without anchors.
    func verify(
        after tamper: @escaping @Sendable (PostgresClient, AuditStore) async throws -> Void
    ) async throws -> (withAnchors: AuditVerifier.Report, without: AuditVerifier.Report, anchors: [AuditAnchor]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("anchors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let anchorFile = directory.appendingPathComponent("audit-anchors.jsonl").path
        return try await TestDatabase.withFreshDatabase { url in
            let database = Database(url: url, logger: logger)
            var configuration = AuditPipeline.Configuration(spoolDirectory: directory.appendingPathComponent("spool"))
            configuration.flushInterval = .milliseconds(10)
            configuration.checkpointInterval = .milliseconds(50)
            configuration.checkpointSigner = { [signer] in signer }
            configuration.anchorLog = AuditAnchorLog(path: anchorFile)
            try await withRunningPipeline(configuration, database: database, logger: logger) { pipeline in
                for n in 0..<10 {
                    #expect(
                        await pipeline.recordBeforeAnswering(
                            AuditEvent(
                                kind: .access, requestID: "anchored-\(n)", principal: #"User::"mallory""#, action: "GET", route: "billing",
                                target: "/v1/invoices", outcome: n == 4 ? "deny" : "allow")))
                    try await Task.sleep(for: .milliseconds(30))
                }
            }
            return try await TestDatabase.withClient(url) { client in
                let store = AuditStore(client: client, logger: logger)
                try await tamper(client, store)
                let anchors = try AuditAnchorLog.read([anchorFile])
                let keys = VerificationKeys([signer.key.publicKey])
                return (
                    try await AuditVerifier(store: store).verify(keys: keys, anchors: anchors),
                    try await AuditVerifier(store: store).verify(keys: keys), anchors
                )
            }
        }
    }

    @Test func aCleanTrailMatchesItsAnchors() async throws {
        let (report, _, anchors) = try await verify { _, _ in }
        #expect(report.isIntact && report.openChains.isEmpty, "\(report)")
        #expect(anchors.first?.kind == .writerStart && anchors.first?.sequence == 1)
        #expect(anchors.contains { $0.kind == .checkpoint } && anchors.last?.kind == .checkpoint)
        #expect(anchors.contains { $0.kind == .writerStop }, "\(anchors.map(\.line))")
        #expect(report.anchorsChecked == anchors.count)
    }

    /// The deny becomes an allow, the rest of the chain is re-hashed and the checkpoints are
    /// deleted: the chain alone verifies, the anchors do not.
    @Test func aRehashedChainWithoutItsCheckpointsIsCaughtByTheAnchors() async throws {
        let (report, without, _) = try await verify { client, store in
            var records: [ChainedEvent] = []
            try await store.chainOrder(since: nil) { records.append($0) }
            var previous = HashChain.genesis
            for record in records {
                var event = record.event
                if event.requestID == "anchored-4" { event.outcome = "allow" }
                let hash = HashChain.hash(event, writerID: record.writerID, sequence: record.sequence, previousHash: previous)
                try await client.query(
                    """
                    UPDATE audit_events SET outcome = \(event.outcome), prev_hash = \(ByteBuffer(bytes: previous)), hash = \(ByteBuffer(bytes: hash))
                    WHERE id = \(record.event.id)
                    """)
                previous = hash
            }
            try await client.query("DELETE FROM audit_checkpoints")
        }
        #expect(without.isIntact, "without anchors the rewrite passes: \(without.findings)")
        #expect(!report.isIntact)
        #expect(report.findings.allSatisfy { $0.problem == .anchorMismatch }, "\(report.findings)")
        #expect(report.findings.contains { $0.detail.contains("field hash") }, "\(report.findings)")
        #expect(report.findings.contains { $0.detail.contains("checkpoint is missing") }, "\(report.findings)")
    }

    @Test func aCutTailOrADeletedChainIsCaughtByTheAnchors() async throws {
        let (cut, cutWithout, _) = try await verify { client, _ in
            try await client.query("DELETE FROM audit_events WHERE seq > 5")
            try await client.query("DELETE FROM audit_checkpoints WHERE seq > 5")
        }
        #expect(!cut.isIntact && cut.findings.allSatisfy { $0.problem == .anchorMismatch }, "\(cut.findings)")
        #expect(cut.findings.contains { $0.detail.contains("anchored record (writer.stop) is missing") }, "\(cut.findings)")
        #expect(cutWithout.findings.isEmpty, "\(cutWithout.findings)")

        let (gone, _, anchors) = try await verify { client, _ in
            try await client.query("DELETE FROM audit_events")
            try await client.query("DELETE FROM audit_checkpoints")
        }
        #expect(gone.findings.count == 1, "one finding for the whole chain: \(gone.findings)")
        #expect(gone.findings.first?.writerID == anchors.first?.writerID && gone.findings.first?.detail.contains("not in the database") == true)
    }

    @Test func anAnchorLineRoundTripsAndABadLineIsNamed() throws {
        var chain = HashChain()
        let start = chain.append(AuditEvent(kind: .writer, action: "writer.start", outcome: "recorded"))
        let anchor = try #require(AuditAnchor(record: start))
        #expect(try AuditAnchor(line: anchor.line) == AuditAnchor(line: anchor.line))
        #expect(try AuditAnchor(line: anchor.line).hash == start.hash)
        #expect(AuditAnchor(record: chain.append(AuditEvent(kind: .access, action: "GET", outcome: "allow"))) == nil)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("anchors-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try (anchor.line + "\n" + #"{"v":1,"seq":2}"# + "\n" + #"{"anchor":"checkpoint","writer":"x"}"# + "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: AuditAnchorError.invalidLine(file: file, line: 3, reason: #""writer" must be a UUID"#)) {
            try AuditAnchorLog.read([file])
        }
    }
}
