import Database
import Foundation
import Logging
import TestSupport
import Testing

@testable import Audit

/// `portcullis audit export|search|verify` as an operator runs them, on a seeded history.
@Suite struct AuditCommandTests {
    @Test func exportSearchAndVerifyReturnExactlyTheSeededEvents() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let start = Date(timeIntervalSince1970: 1_795_000_000)
            var chain = HashChain()
            let events = (0..<120).map { i -> AuditEvent in
                let principal = i % 3 == 0 ? #"User::"alice""# : #"User::"bob""#
                let route = i % 2 == 0 ? "billing" : "shipments"
                let outcome = i % 4 == 0 ? "deny" : "allow"
                let details: String? = i == 5 ? #"{"note":"a, \"quoted\"\nvalue"}"# : nil
                return AuditEvent(
                    time: start.addingTimeInterval(Double(i) * 60), kind: .access, requestID: "req-\(i)",
                    principal: principal, action: "GET", route: route, target: "/v1/x/\(i)", outcome: outcome,
                    details: details)
            }
            try await TestDatabase.withClient(url) { client in
                let logger = Logger(label: "audit-cli-test")
                _ = try await Migrator(client: client, logger: logger).apply(try Migration.bundled())
                // A chain begins with its writer's start, as every writer's does.
                let started = chain.append(AuditEvent(time: start.addingTimeInterval(-1), kind: .writer, action: "writer.start", outcome: "recorded"))
                try await AuditStore(client: client, logger: logger).write([started] + events.map { chain.append($0) })
            }
            let environment = ["PORTCULLIS_DATABASE_URL": url.connectionString, "PORTCULLIS_LOG_LEVEL": "error"]

            // Export: every alice event in the window, oldest first, one v1 JSON object per line.
            let from = start.addingTimeInterval(30 * 60)
            let to = start.addingTimeInterval(90 * 60)
            let since = ISO8601DateFormatter().string(from: from)
            let until = ISO8601DateFormatter().string(from: to)
            let window = events.filter { $0.principal == #"User::"alice""# && $0.time >= from && $0.time < to }
            #expect(!window.isEmpty)
            let export = try PortcullisProcess(
                ["audit", "export", "--principal", #"User::"alice""#, "--since", since, "--until", until],
                environment: environment)
            #expect(try await export.wait() == 0, "\(export.standardError)")
            let exported = export.standardOutput.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
            }
            #expect(exported.map { $0["id"] as? String } == window.map { $0.id.uuidString.lowercased() })

            // CSV of everything: a header and one RFC 4180 record per event.
            let csv = try PortcullisProcess(["audit", "export", "--format", "csv"], environment: environment)
            #expect(try await csv.wait() == 0)
            #expect(csv.standardOutput.hasPrefix("v,id,time,kind,"))
            #expect(csv.standardOutput.contains(#""{""note"":""a, \""quoted\""\nvalue""}""#))

            // Search: newest first, filtered by route and decision.
            let search = try PortcullisProcess(
                ["audit", "search", "--route", "billing", "--decision", "deny", "--limit", "5"],
                environment: environment)
            #expect(try await search.wait() == 0)
            let expected = events.filter { $0.route == "billing" && $0.outcome == "deny" }.suffix(5).reversed()
            let found = search.standardOutput.split(separator: "\n").compactMap {
                ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["id"] as? String
            }
            #expect(found == expected.map { $0.id.uuidString.lowercased() })

            // Verify: intact, but without the master key or --keys no signature was checked, so
            // not proven (exit 2) unless accepted.
            let verify = try PortcullisProcess(["audit", "verify"], environment: environment)
            #expect(try await verify.wait() == 2)
            #expect(verify.standardOutput.contains("121 records in 1 chains"), "\(verify.standardOutput)")
            #expect(verify.standardOutput.contains("NO SIGNATURES CHECKED") && verify.standardOutput.contains("intact"))
            #expect(verify.standardError.contains("not proven: no checkpoint signature was checked"), "\(verify.standardError)")
            let accepted = try PortcullisProcess(["audit", "verify", "--accept-unproven"], environment: environment)
            #expect(try await accepted.wait() == 0)
            #expect(accepted.standardOutput.contains("intact"))
        }
    }
}
