import Foundation
import PostgresNIO
import TestSupport
import Testing
import Tokens

@testable import Audit

@Suite struct AuditCheckpointTests {
    let signer = TokenSigner(key: try! Ed25519SecretKey(seed: (0..<32).map { _ in UInt8.random(in: 0...255) }))
    var keys: VerificationKeys { VerificationKeys([signer.key.publicKey]) }

    /// Twenty chained records with a signed checkpoint at record 15; `tamper` then runs raw SQL.
    func verify(after tamper: PostgresQuery?, keys: VerificationKeys? = nil) async throws -> AuditVerifier.Report {
        try await withAuditStore { store, client in
            var chain = HashChain()
            let events = (0..<20).map { i in
                AuditEvent(
                    time: Date().addingTimeInterval(Double(i)), kind: .admin, principal: #"User::"admin""#,
                    action: "user.disable", target: "User::\"u\(i)\"", outcome: "applied")
            }
            // The writer's start, then fourteen events: the checkpoint vouches for record 15.
            let first =
                [chain.append(AuditEvent(kind: .writer, action: "writer.start", outcome: "recorded"))] + events.prefix(14).map { chain.append($0) }
            try await store.write(first)
            let checkpoint = AuditCheckpoint(writerID: chain.writerID, sequence: 15, headHash: chain.head)
            let (keyID, token) = try checkpoint.sign(with: signer)
            try await store.saveCheckpoint(checkpoint, keyID: keyID, token: token)
            try await store.write(events.suffix(5).map { chain.append($0) })  // records 16 … 20
            if let tamper { try await client.query(tamper) }
            return try await AuditVerifier(store: store).verify(keys: keys ?? self.keys)
        }
    }

    @Test func aCheckpointedTrailVerifies() async throws {
        let report = try await verify(after: nil)
        #expect(report.isIntact, "\(report.findings)")
        #expect(report.checkpointsChecked == 1)
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
