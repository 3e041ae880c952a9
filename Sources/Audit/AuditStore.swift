import Database
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The audit trail in PostgreSQL: daily range partitions of `audit_events`, idempotent
/// batch writes, retention by detaching and dropping whole days, and queries.
public struct AuditStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// Days whose partition this process has seen exist, so a write costs no catalogue lookup.
    private let knownDays = KnownDays()

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    final class KnownDays: Sendable {
        private let days = Mutex<Set<Int64>>([])
        func contains(_ day: Int64) -> Bool { days.withLock { $0.contains(day) } }
        func insert(_ day: Int64) { _ = days.withLock { $0.insert(day) } }
        func removeAll() { days.withLock { $0.removeAll() } }
    }

    // MARK: Writing

    /// A batch already in COPY text form, so the writer can encode the next batch while this
    /// one is in flight.
    public struct EncodedBatch: Sendable {
        let payload: ByteBuffer
        let days: Set<Int64>
        public let count: Int

        public init(_ batch: [ChainedEvent]) {
            var rows = CopyTextWriter(capacity: batch.count * 400)
            var days = Set<Int64>()
            for record in batch {
                AuditStore.copyRow(record, timeAsText: true, into: &rows)
                days.insert(AuditStore.day(ofMicros: record.event.timeMicros))
            }
            self.payload = rows.buffer
            self.days = days
            self.count = batch.count
        }
    }

    /// Writes a batch with one COPY straight into the partitioned table: the fast path for
    /// fresh events, whose ids cannot be in the table yet.
    public func write(_ batch: [ChainedEvent]) async throws {
        try await write(EncodedBatch(batch))
    }

    public func write(_ batch: EncodedBatch) async throws {
        guard batch.count > 0 else { return }
        try await ensurePartitions(days: batch.days)
        let logger = self.logger
        try await client.withConnection { connection in
            try await connection.copyFrom(table: "audit_events", logger: logger) { writer in
                try await writer.write(batch.payload)
            }
        }
    }

    /// Writes a batch that may already be (partly) stored, e.g. replayed from the spool after a
    /// write whose acknowledgement was lost: COPY into a per-connection staging table, then
    /// `INSERT … ON CONFLICT DO NOTHING`, so nothing is ever stored twice.
    public func writeIdempotently(_ batch: [ChainedEvent]) async throws {
        guard !batch.isEmpty else { return }
        try await ensurePartitions(covering: batch.map(\.event.timeMicros))
        var rows = CopyTextWriter(capacity: batch.count * 400)
        for record in batch { Self.copyRow(record, timeAsText: false, into: &rows) }
        let buffer = rows.buffer
        let logger = self.logger
        try await client.withConnection { connection in
            try await connection.query(
                """
                CREATE TEMP TABLE IF NOT EXISTS audit_staging (
                    id uuid, occurred_us bigint, kind text, request_id text, principal text, auth_method text,
                    action text, route text, target text, client_address text, outcome text, policies text[],
                    policy_version text, upstream_status integer, duration_us bigint, details text,
                    writer_id uuid, seq bigint, prev_hash bytea, hash bytea
                ) ON COMMIT DELETE ROWS
                """, logger: logger)
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.copyFrom(table: "audit_staging", logger: logger) { writer in
                    try await writer.write(buffer)
                }
                try await connection.query(
                    """
                    INSERT INTO audit_events
                    SELECT id, timestamptz 'epoch' + occurred_us * interval '1 microsecond', kind, request_id, principal,
                           auth_method, action, route, target, client_address, outcome, policies, policy_version,
                           upstream_status, duration_us, details, writer_id, seq, prev_hash, hash
                    FROM audit_staging
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
        }
    }

    /// One COPY text row; the time as `timestamptz` text for the table, or as microseconds for staging.
    static func copyRow(_ record: ChainedEvent, timeAsText: Bool, into row: inout CopyTextWriter) {
        let event = record.event
        row.text(event.id.uuidString)
        if timeAsText { row.text(CivilTime.timestampText(micros: event.timeMicros)) } else { row.integer(event.timeMicros) }
        row.text(event.kind.rawValue)
        row.text(event.requestID)
        row.text(event.principal)
        row.text(event.authMethod)
        row.text(event.action)
        row.text(event.route)
        row.text(event.target)
        row.text(event.clientAddress)
        row.text(event.outcome)
        row.textArray(event.policies)
        row.text(event.policyVersion)
        row.integer(event.upstreamStatus)
        row.integer(event.durationMicros)
        row.text(event.details)
        row.text(record.writerID.uuidString)
        row.integer(record.sequence)
        row.bytes(record.previousHash)
        row.bytes(record.hash)
        row.endRow()
    }

    // MARK: Partitions

    /// The UTC day (as days since the epoch) an instant falls in.
    static func day(ofMicros micros: Int64) -> Int64 {
        CivilTime.split(micros: micros).day
    }

    static func partitionName(day: Int64) -> String {
        "audit_events_p" + CivilTime.compactDate(ofDay: day)
    }

    /// Creates the daily partitions for `days` that do not exist yet.
    ///
    /// Each is created as a plain table with a CHECK constraint matching its range and then
    /// attached: ATTACH takes only a SHARE UPDATE EXCLUSIVE lock on the parent (reads and writes
    /// go on) and, thanks to the constraint, does not scan.
    public func ensurePartitions(days: some Sequence<Int64>) async throws {
        let logger = self.logger
        for day in Set(days).sorted() where !knownDays.contains(day) {
            let name = Self.partitionName(day: day)
            let lower = day * 86_400
            let upper = (day + 1) * 86_400
            let exists = try await client.query("SELECT to_regclass(\(name)) IS NOT NULL", logger: logger)
            var present = false
            for try await value in exists.decode(Bool.self) { present = value }
            if present {
                knownDays.insert(day)
                continue
            }
            try await client.withTransaction(logger: logger) { connection in
                // Serialise creators (several gateways may start the same day at once).
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.partitionLockKey))", logger: logger)
                let again = try await connection.query("SELECT to_regclass(\(name)) IS NOT NULL", logger: logger)
                for try await value in again.decode(Bool.self) where value { return }
                let range = "FROM (timestamptz 'epoch' + interval '\(lower) seconds') TO (timestamptz 'epoch' + interval '\(upper) seconds')"
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE TABLE \(name) (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
                            """), logger: logger)
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            ALTER TABLE \(name) ADD CONSTRAINT \(name)_range CHECK (
                                occurred_at >= timestamptz 'epoch' + interval '\(lower) seconds' AND
                                occurred_at <  timestamptz 'epoch' + interval '\(upper) seconds')
                            """), logger: logger)
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            ALTER TABLE audit_events ATTACH PARTITION \(name) FOR VALUES \(range)
                            """), logger: logger)
            }
            knownDays.insert(day)
            logger.info("created audit partition", metadata: ["partition": "\(name)"])
        }
    }

    static let partitionLockKey: Int64 = 0x6175_6469_7470_6172  // "auditpar"

    func ensurePartitions(covering micros: [Int64]) async throws {
        try await ensurePartitions(days: micros.map(Self.day(ofMicros:)))
    }

    /// Today and the next `daysAhead` days, so writers almost never create a partition inline.
    public func createPartitionsAhead(now: Date = Date(), daysAhead: Int) async throws {
        let today = Self.day(ofMicros: CivilTime.micros(now))
        try await ensurePartitions(days: today...(today + Int64(daysAhead)))
    }

    /// The attached daily partitions, oldest first.
    public func partitions() async throws -> [String] {
        let rows = try await client.query(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'audit_events'::regclass ORDER BY c.relname
            """, logger: logger)
        var names: [String] = []
        for try await name in rows.decode(String.self) { names.append(name) }
        return names
    }

    /// Drops every partition whose whole day is older than `retentionDays` before today.
    /// DETACH … CONCURRENTLY leaves writers and readers of other days unblocked.
    @discardableResult
    public func dropPartitions(olderThanDays retentionDays: Int, now: Date = Date()) async throws -> [String] {
        let today = Self.day(ofMicros: CivilTime.micros(now))
        let cutoff = Self.partitionName(day: today - Int64(retentionDays))
        var dropped: [String] = []
        knownDays.removeAll()
        for name in try await partitions() where name < cutoff {
            try await client.query(PostgresQuery(unsafeSQL: "ALTER TABLE audit_events DETACH PARTITION \(name) CONCURRENTLY"), logger: logger)
            try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE \(name)"), logger: logger)
            dropped.append(name)
            logger.notice("dropped audit partition", metadata: ["partition": "\(name)", "retention_days": "\(retentionDays)"])
        }
        return dropped
    }
}

extension AuditStore {
    // MARK: Reading

    /// One page of a search (see `AuditQuery` for paging).
    public func search(_ query: AuditQuery) async throws -> [ChainedEvent] {
        var results: [ChainedEvent] = []
        for try await row in try await client.query(try query.sql(), logger: logger) {
            results.append(try StoredColumns.decode(row))
        }
        return results
    }

    /// Every record matching `query`, oldest first, page by page: memory stays bounded
    /// however long the range (exports of years of history).
    public func forEach(_ query: AuditQuery, pageSize: Int = 1_000, _ body: (ChainedEvent) async throws -> Void) async throws {
        var page = query
        page.ascending = true
        page.limit = pageSize
        while true {
            let records = try await search(page)
            for record in records { try await body(record) }
            guard records.count == pageSize, let last = records.last else { return }
            page.after = .init(timeMicros: last.event.timeMicros, id: last.event.id)
        }
    }

    /// Every record in chain order (writer, then sequence), streamed from one query.
    func chainOrder(since: Date?, _ body: (ChainedEvent) throws -> Void) async throws {
        var binds = PostgresBindings()
        var filter = ""
        if let since {
            binds.append(CivilTime.micros(since))
            filter = "WHERE occurred_at >= timestamptz 'epoch' + $1::bigint * interval '1 microsecond'"
        }
        let sql = "SELECT \(StoredColumns.list) FROM audit_events \(filter) ORDER BY writer_id, seq"
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
            try body(try StoredColumns.decode(row))
        }
    }
}
