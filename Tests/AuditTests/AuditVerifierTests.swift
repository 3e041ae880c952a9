import Foundation
import PostgresNIO
import TestSupport
import Testing

@testable import Audit

@Suite struct AuditVerifierTests {
    /// Ten chained events of two writers, stored; then `tamper` runs raw SQL as an attacker with
    /// database access would, and the verifier must name what changed.
    func verify(after tamper: PostgresQuery?) async throws -> AuditVerifier.Report {
        try await withAuditStore { store, client in
            let start = Date()
            for writer in 0..<2 {
                var chain = HashChain(writerID: UUID())
                // A chain begins with its writer's start: record 1; u1 … u9 follow as records 2 … 10.
                let batch = (0..<10).map { i in
                    chain.append(
                        i == 0
                            ? AuditEvent(
                                time: start.addingTimeInterval(Double(writer * 100)), kind: .writer, action: "writer.start", outcome: "recorded")
                            : AuditEvent(
                                time: start.addingTimeInterval(Double(i + writer * 100)), kind: .access,
                                principal: #"User::"u\#(i)""#, action: "GET", route: "r", outcome: "allow"))
                }
                try await store.write(batch)
            }
            if let tamper { try await client.query(tamper) }
            return try await AuditVerifier(store: store).verify()
        }
    }

    @Test func anUntouchedTrailIsIntact() async throws {
        let report = try await verify(after: nil)
        #expect(report.isIntact)
        #expect(report.records == 20 && report.writers == 2)
    }

    @Test func catchesAnUpdate() async throws {
        let report = try await verify(after: #"UPDATE audit_events SET outcome = 'deny' WHERE principal = 'User::"u4"' AND seq = 5"#)
        #expect(report.findings.allSatisfy { $0.description.contains("writer \($0.writerID.uuidString.lowercased())") })
        #expect(report.findings.count == 2)  // both writers have a u4 at sequence 5
        #expect(report.findings.allSatisfy { $0.problem == .contentMismatch && $0.sequence == 5 })
    }

    @Test func catchesADelete() async throws {
        let report = try await verify(after: "DELETE FROM audit_events WHERE seq = 3")
        #expect(report.findings.count == 2)
        #expect(report.findings.allSatisfy { $0.problem == .missing && $0.sequence == 4 })
    }

    @Test func catchesAReorder() async throws {
        // Swap the sequence numbers of records 6 and 7 of every chain.
        let report = try await verify(after: "UPDATE audit_events SET seq = CASE seq WHEN 6 THEN 7 ELSE 6 END WHERE seq IN (6, 7)")
        #expect(!report.isIntact)
        // The moved records no longer match their hashes, and record 8 no longer continues record 7.
        #expect(Set(report.findings.map(\.sequence)).isSubset(of: [6, 7, 8]))
        #expect(report.findings.contains { $0.problem == .contentMismatch })
    }

    @Test func catchesAnInsertedRecord() async throws {
        let report = try await verify(
            after: """
                INSERT INTO audit_events SELECT gen_random_uuid(), occurred_at, kind, request_id, 'User::"mallory"', auth_method,
                    action, route, target, client_address, outcome, policies, policy_version, upstream_status, duration_us, details,
                    writer_id, seq, prev_hash, hash
                FROM audit_events WHERE seq = 8
                """)
        #expect(report.findings.contains { $0.problem == .duplicate || $0.problem == .contentMismatch })
        #expect(!report.isIntact)
    }

    /// Continuity (issue 24): a chain begins with its writer's start and nothing follows its
    /// clean stop, so a chain started by hand or an event appended after the stop is named.
    @Test func aChainWithoutItsStartOrWithARecordAfterItsStopIsNamed() async throws {
        let noStart = try await verify(after: "DELETE FROM audit_events WHERE seq = 1")
        #expect(noStart.findings.map(\.problem).sorted(by: { $0.rawValue < $1.rawValue }) == [.missing, .missing])
        try await withAuditStore { store, _ in
            var chain = HashChain()
            var records = [chain.append(AuditEvent(kind: .writer, action: "writer.start", outcome: "recorded"))]
            records.append(chain.append(AuditEvent(kind: .writer, action: "writer.stop", outcome: "recorded")))
            records.append(chain.append(AuditEvent(kind: .admin, principal: #"User::"mallory""#, action: "role.grant", outcome: "applied")))
            try await store.write(records)
            let report = try await AuditVerifier(store: store).verify()
            #expect(report.findings.map(\.problem) == [.continuity] && report.findings.first?.sequence == 3, "\(report.findings)")
        }
        try await withAuditStore { store, _ in
            var chain = HashChain()
            try await store.write([chain.append(AuditEvent(kind: .access, action: "GET", outcome: "allow"))])
            let report = try await AuditVerifier(store: store).verify()
            #expect(report.findings.map(\.problem) == [.continuity] && report.findings.first?.sequence == 1, "\(report.findings)")
        }
    }
}
