import Database
import Logging

/// `portcullis migrate`: runs the bundled migrations with a pool that lives only as long as the command.
public enum MigrationRuntime {
    public static func run(configuration: PortcullisConfiguration, logger: Logger) async throws -> Migrator.Report {
        let url = try configuration.requireDatabaseURL()
        let migrations = try Migration.bundled()
        let database = Database(url: url, pool: configuration.database.pool, logger: logger)
        return try await withThrowingTaskGroup(of: Migrator.Report?.self) { group in
            group.addTask { try await database.run(); return nil }
            defer { group.cancelAll() }
            return try await Migrator(client: database.client, logger: logger).apply(migrations)
        }
    }
}
