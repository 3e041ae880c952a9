import Database
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Audit

/// Runs `body` against a fresh, migrated database.
func withAuditStore<T: Sendable>(_ body: (AuditStore, PostgresClient) async throws -> T) async throws -> T {
    try await TestDatabase.withFreshDatabase { url in
        try await TestDatabase.withClient(url) { client in
            let logger = Logger(label: "audit-test")
            _ = try await Migrator(client: client, logger: logger).apply(try Migration.bundled())
            return try await body(AuditStore(client: client, logger: logger), client)
        }
    }
}

func count(_ client: PostgresClient, _ sql: PostgresQuery = "SELECT count(*) FROM audit_events") async throws -> Int64 {
    var total: Int64 = -1
    for try await value in try await client.query(sql).decode(Int64.self) { total = value }
    return total
}

@Suite struct AuditStoreTests {
    static let day: TimeInterval = 86_400

    func sampleEvents(_ n: Int, start: Date = Date()) -> [AuditEvent] {
        (0..<n).map { i -> AuditEvent in
            let principal = i % 2 == 0 ? #"User::"alice""# : #"Service::"billing""#
            let route = i % 3 == 0 ? "billing" : "shipments"
            let outcome = i % 5 == 0 ? "deny" : "allow"
            let details: String? = i % 7 == 0 ? #"{"note":"line1\nline2"}"# : nil
            let time = start.addingTimeInterval(Double(i) / 1000)
            return AuditEvent(
                time: time, kind: .access, requestID: "req-\(i)", principal: principal, authMethod: "token",
                action: "GET", route: route, target: "/v1/items/\(i)?q=a\tb", clientAddress: "10.0.0.\(i % 250)",
                outcome: outcome, policies: ["policy\(i % 4)", #"quote"and\back"#], policyVersion: "sha256:abc",
                upstreamStatus: 200, durationMicros: Int64(i), details: details)
        }
    }

    @Test func writtenEventsReadBackExactly() async throws {
        try await withAuditStore { store, client in
            var chain = HashChain()
            let batch = sampleEvents(50).map { chain.append($0) }
            try await store.write(batch)
            var stored: [ChainedEvent] = []
            for try await row in try await client.query(PostgresQuery(unsafeSQL: "SELECT \(StoredColumns.list) FROM audit_events ORDER BY seq")) {
                stored.append(try StoredColumns.decode(row))
            }
            #expect(stored == batch)
        }
    }

    @Test func replayingABatchAddsNothing() async throws {
        try await withAuditStore { store, client in
            var chain = HashChain()
            let batch = sampleEvents(20).map { chain.append($0) }
            try await store.write(batch)
            try await store.writeIdempotently(batch)
            try await store.writeIdempotently(Array(batch.prefix(5)))
            #expect(try await count(client) == 20)
            // The fast path refuses a duplicate outright (primary key), it never stores one.
            await #expect(throws: (any Error).self) { try await store.write(Array(batch.prefix(1))) }
            #expect(try await count(client) == 20)
        }
    }

    @Test func partitionsAreCreatedAheadAndDroppedForRetention() async throws {
        try await withAuditStore { store, client in
            let now = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18
            try await store.createPartitionsAhead(now: now, daysAhead: 7)
            #expect(try await store.partitions().count == 8)
            // Events 40 days ago create their partition on the fly.
            var chain = HashChain()
            try await store.write(sampleEvents(3, start: now.addingTimeInterval(-40 * Self.day)).map { chain.append($0) })
            try await store.write(sampleEvents(3, start: now).map { chain.append($0) })
            #expect(try await store.partitions().count == 9)
            let dropped = try await store.dropPartitions(olderThanDays: 30, now: now)
            #expect(dropped == [AuditStore.partitionName(day: AuditStore.day(ofMicros: Int64((now.timeIntervalSince1970 - 40 * Self.day) * 1e6)))])
            #expect(try await store.partitions().count == 8)
            #expect(try await count(client) == 3)
        }
    }

    @Test func timestampTextMatchesFoundation() {
        var generator = SystemRandomNumberGenerator()
        let style = Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day().dateSeparator(.dash)
            .dateTimeSeparator(.space).time(includingFractionalSeconds: false)
        for _ in 0..<2_000 {
            let micros = Int64.random(in: -5_000_000_000_000_000...5_000_000_000_000_000, using: &generator)
            let (day, microsOfDay) = CivilTime.split(micros: micros)
            let whole = Date(timeIntervalSince1970: Double(day * 86_400 + microsOfDay / 1_000_000))
            let expected =
                whole.formatted(style).replacingOccurrences(of: "Z", with: "")
                + "." + String(microsOfDay % 1_000_000).leftPadded(to: 6) + "+00"
            #expect(CivilTime.timestampText(micros: micros) == expected)
        }
    }

    @Test func partitionNamesFollowTheUTCDay() {
        #expect(AuditStore.partitionName(day: 0) == "audit_events_p19700101")
        #expect(AuditStore.partitionName(day: -1) == "audit_events_p19691231")
        #expect(AuditStore.day(ofMicros: -1) == -1)
        #expect(AuditStore.day(ofMicros: 86_400_000_000) == 1)
    }

    @Test func searchFiltersAndPagesWithAKeysetCursor() async throws {
        try await withAuditStore { store, client in
            var chain = HashChain()
            let events = sampleEvents(60)
            try await store.write(events.map { chain.append($0) })
            let aliceDenied = events.filter { $0.principal == #"User::"alice""# && $0.outcome == "deny" }
            var query = AuditQuery(principal: #"User::"alice""#, outcome: "deny", limit: 4)
            var found: [AuditEvent] = []
            while true {
                let page = try await store.search(query)
                found += page.map(\.event)
                guard page.count == query.limit, let last = page.last else { break }
                query.after = .init(timeMicros: last.event.timeMicros, id: last.event.id)
            }
            #expect(found.map(\.id) == aliceDenied.reversed().map(\.id))
            let byRequest = try await store.search(AuditQuery(requestID: "req-7"))
            #expect(byRequest.map(\.event.id) == [events[7].id])
            // A plain login finds the same records as the Cedar uid it stands for.
            let byLogin = try await store.search(AuditQuery(principal: "alice", outcome: "deny", limit: 100))
            #expect(byLogin.map(\.event.id) == aliceDenied.reversed().map(\.id))
        }
    }
}
