import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Database

@Suite struct MigratorTests {
    let logger = Logger(label: "migrator-test")

    let first = Migration(
        version: 1, name: "create_things",
        sql: """
            CREATE TABLE things (id bigint PRIMARY KEY, label text NOT NULL);
            INSERT INTO things VALUES (1, 'one; with a semicolon');
            """)
    let second = Migration(version: 2, name: "add_colour", sql: "ALTER TABLE things ADD COLUMN colour text;")

    @Test func bundledMigrationsLoadInOrder() throws {
        let migrations = try Migration.bundled()
        #expect(migrations.map(\.version) == migrations.map(\.version).sorted())
    }

    @Test func appliesOnceAndIsIdempotent() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await TestDatabase.withClient(url) { client in
                let migrator = Migrator(client: client, logger: logger)
                let firstRun = try await migrator.apply([first, second])
                #expect(firstRun.applied == ["0001_create_things", "0002_add_colour"])
                let secondRun = try await migrator.apply([first, second])
                #expect(secondRun.applied.isEmpty)
                #expect(secondRun.alreadyApplied == 2)
                let rows = try await client.query("SELECT count(*) FROM things")
                for try await count in rows.decode(Int64.self) { #expect(count == 1) }
            }
        }
    }

    @Test func bundledMigrationsApplyToAnEmptyDatabase() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await TestDatabase.withClient(url) { client in
                let migrations = try Migration.bundled()
                let report = try await Migrator(client: client, logger: logger).apply(migrations)
                #expect(report.applied.count == migrations.count)
            }
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationExactlyOnce() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let migrations = [first, second]
            let logger = self.logger
            let reports = try await withThrowingTaskGroup(of: Migrator.Report.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await TestDatabase.withClient(url) { client in
                            try await Migrator(client: client, logger: logger).apply(migrations)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(reports.flatMap(\.applied).sorted() == ["0001_create_things", "0002_add_colour"])
            try await TestDatabase.withClient(url) { client in
                let rows = try await client.query("SELECT version FROM schema_migrations ORDER BY version")
                var versions: [Int64] = []
                for try await version in rows.decode(Int64.self) { versions.append(version) }
                #expect(versions == [1, 2])
            }
        }
    }

    @Test func aFailingMigrationChangesNothing() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await TestDatabase.withClient(url) { client in
                let broken = Migration(version: 3, name: "broken", sql: "CREATE TABLE ok (a int); SELEKT nonsense;")
                let migrator = Migrator(client: client, logger: logger)
                await #expect {
                    try await migrator.apply([first, second, broken])
                } throws: { error in
                    guard case MigrationError.statementFailed(let label, let statement, let message) = error else { return false }
                    return label == "0003_broken" && statement == 2 && message.contains("syntax error")
                }
                let rows = try await client.query("SELECT to_regclass('things') IS NULL AND to_regclass('ok') IS NULL")
                for try await nothingCreated in rows.decode(Bool.self) { #expect(nothingCreated) }
            }
        }
    }

    @Test func refusesAnEditedMigration() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await TestDatabase.withClient(url) { client in
                let migrator = Migrator(client: client, logger: logger)
                _ = try await migrator.apply([first])
                let edited = Migration(version: 1, name: first.name, sql: first.sql + "\n-- edited")
                await #expect(throws: MigrationError.checksumMismatch("0001_create_things")) {
                    try await migrator.apply([edited])
                }
            }
        }
    }

    @Test func refusesADatabaseMigratedByANewerBuild() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await TestDatabase.withClient(url) { client in
                let migrator = Migrator(client: client, logger: logger)
                _ = try await migrator.apply([first, second])
                await #expect(throws: MigrationError.unknownAppliedVersion(2, name: "add_colour")) {
                    try await migrator.apply([first])
                }
            }
        }
    }

    @Test func rejectsBadMigrationFileNames() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "SELECT 1;".write(to: directory.appendingPathComponent("0001_ok.sql"), atomically: true, encoding: .utf8)
        try "SELECT 1;".write(to: directory.appendingPathComponent("2_missing_extension"), atomically: true, encoding: .utf8)
        #expect(throws: MigrationError.badFileName("2_missing_extension")) { try Migration.load(from: directory) }
    }
}
