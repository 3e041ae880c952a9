import Foundation
import PostgresNIO
import TestSupport
import Testing
import Tokens

@testable import Audit

@Suite struct AuditCheckpointTests {
    let signer = TokenSigner(key: try! Ed25519SecretKey(seed: (0..<32).map { _ in UInt8.random(in: 0...255) }))
    var keys: VerificationKeys { VerificationKeys([signer.key.publicKey]) }

    /// Twenty chained records 5 s apart with a signed checkpoint at record 15; `tamper` then runs
    /// raw SQL. Verified at `later` seconds after the first record.
    func verify(
        after tamper: PostgresQuery?, keys: VerificationKeys? = nil, checkpointInterval: Duration = .seconds(60), later: TimeInterval = 0
    ) async throws -> AuditVerifier.Report {
        let start = Date()
        return try await withAuditStore { store, client in
            var chain = HashChain()
            let events = (0..<20).map { i in
                AuditEvent(
                    time: start.addingTimeInterval(5 * Double(i)), kind: .admin, principal: #"User::"admin""#,
                    action: "user.disable", target: "User::\"u\(i)\"", outcome: "applied")
            }
            // The writer's start, then fourteen events: the checkpoint vouches for record 15.
            let first =
                [chain.append(AuditEvent(time: start, kind: .writer, action: "writer.start", outcome: "recorded"))]
                + events.prefix(14).map { chain.append($0) }
            try await store.write(first)
            let checkpoint = AuditCheckpoint(writerID: chain.writerID, sequence: 15, headHash: chain.head)
            let (keyID, token) = try checkpoint.sign(with: signer)
            try await store.saveCheckpoint(checkpoint, keyID: keyID, token: token)
            try await store.write(events.suffix(5).map { chain.append($0) })  // records 16 … 20
            if let tamper { try await client.query(tamper) }
            return try await AuditVerifier(store: store, checkpointInterval: checkpointInterval)
                .verify(keys: keys ?? self.keys, now: start.addingTimeInterval(later))
        }
    }

    @Test func aCheckpointedTrailVerifies() async throws {
        let report = try await verify(after: nil)
        #expect(report.isIntact, "\(report.findings)")
        #expect(report.gaps.isEmpty, "\(report.gaps)")
        #expect(report.checkpointsChecked == 1)
    }

    /// Records no signed checkpoint covers within two checkpoint intervals (and 10 s) are gaps in
    /// the evidence: nothing shows a change, and nothing signed rules one out.
    @Test func recordsNoCheckpointCoversInTimeAreGapsInTheEvidence() async throws {
        // Records 16…20 (written 70…90 s in) with no checkpoint after them, seen 300 s in: a
        // crash before the next checkpoint, or its checkpoint deleted.
        let tail = try await verify(after: nil, later: 300)
        #expect(tail.isIntact && tail.gaps.map(\.problem) == [.unvouched] && tail.gaps.map(\.sequence) == [16], "\(tail.gaps)")
        #expect(tail.gaps.first?.description.contains("records 16...20") == true, "\(tail.gaps)")
        // Records 1…15 span 65 s under one checkpoint: with a 10 s interval, those between were deleted.
        let gap = try await verify(after: nil, checkpointInterval: .seconds(10))
        #expect(gap.isIntact && gap.gaps.map(\.problem) == [.checkpointGap] && gap.gaps.map(\.sequence) == [1], "\(gap.gaps)")
        #expect(gap.gaps.first?.description.contains("records 1...15 span 65 s") == true, "\(gap.gaps)")
        // Every checkpoint deleted: the whole chain is vouched for by nothing.
        let none = try await verify(after: "DELETE FROM audit_checkpoints", later: 300)
        #expect(none.isIntact && none.gaps.map(\.sequence) == [1], "\(none.gaps)")
    }

    @Test func deletingTheNewestRecordsIsCaughtByTheCheckpoint() async throws {
        // Without the checkpoint this leaves a shorter chain that links up perfectly.
        let report = try await verify(after: "DELETE FROM audit_events WHERE seq > 12")
        #expect(report.findings.map(\.problem) == [.checkpointMismatch])
    }

    @Test func aForgedCheckpointIsCaught() async throws {
        let report = try await verify(after: "UPDATE audit_checkpoints SET token = token || 'A'")
        #expect(report.findings.map(\.problem) == [.badCheckpointSignature])
    }

    @Test func aCheckpointFromAnUnknownKeyIsCaught() async throws {
        let stranger = try Ed25519SecretKey(seed: [UInt8](repeating: 7, count: 32))
        let report = try await verify(after: nil, keys: VerificationKeys([stranger.publicKey]))
        #expect(report.findings.map(\.problem) == [.badCheckpointSignature])
    }
}
