import Logging
import PostgresNIO

/// Applies pending migrations in version order, all of them in one transaction.
///
/// A transaction-scoped advisory lock serialises concurrent starters: the second process waits,
/// then finds everything applied. Either every pending migration lands or none does.
/// (Consequence: a migration cannot use `CREATE INDEX CONCURRENTLY`.)
public struct Migrator: Sendable {
    /// Arbitrary constant naming Portcullis's migration lock among the database's advisory locks.
    static let lockKey: Int64 = 0x706F_7274_6375_6C6C  // "portcull"

    public struct Report: Sendable, Equatable {
        public var applied: [String]
        public var alreadyApplied: Int
    }

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func apply(_ migrations: [Migration]) async throws -> Report {
        try Migration.validateOrder(migrations)
        let ordered = migrations.sorted { $0.version < $1.version }
        let logger = self.logger
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version     bigint PRIMARY KEY,
                        name        text NOT NULL,
                        checksum    text NOT NULL,
                        applied_at  timestamptz NOT NULL DEFAULT now()
                    )
                    """, logger: logger)
                var applied: [Int: String] = [:]
                let rows = try await connection.query("SELECT version, name FROM schema_migrations", logger: logger)
                for try await (version, name) in rows.decode((Int64, String).self) { applied[Int(version)] = name }

                let known = Set(ordered.map(\.version))
                if let stray = applied.keys.sorted().first(where: { !known.contains($0) }) {
                    throw MigrationError.unknownAppliedVersion(stray, name: applied[stray] ?? "")
                }
                var report = Report(applied: [], alreadyApplied: 0)
                for migration in ordered {
                    if applied[migration.version] != nil {
                        try await verifyChecksum(of: migration, on: connection)
                        report.alreadyApplied += 1
                        continue
                    }
                    try await run(migration, on: connection)
                    report.applied.append(migration.label)
                }
                return report
            }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.commitError ?? error.beginError ?? error
        }
    }

    private func verifyChecksum(of migration: Migration, on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            """
            SELECT checksum = encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex')
            FROM schema_migrations WHERE version = \(migration.version)
            """, logger: logger)
        for try await matches in rows.decode(Bool.self) where !matches {
            throw MigrationError.checksumMismatch(migration.label)
        }
    }

    private func run(_ migration: Migration, on connection: PostgresConnection) async throws {
        for (index, statement) in SQLScript.statements(in: migration.sql).enumerated() {
            do {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            } catch {
                throw MigrationError.statementFailed(
                    migration: migration.label, statement: index + 1, message: PostgresErrorText.describe(error))
            }
        }
        try await connection.query(
            """
            INSERT INTO schema_migrations (version, name, checksum)
            VALUES (\(migration.version), \(migration.name), encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex'))
            """, logger: logger)
        logger.info("applied migration", metadata: ["migration": "\(migration.label)"])
    }
}

/// postgres-nio keeps server messages out of `description` so that they cannot leak by accident;
/// operators still need the server's reason (never bind values) to fix a failing statement.
public enum PostgresErrorText {
    public static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let code = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + code
            }
            return "\(error.code)"
        }
        return "\(error)"
    }
}
