import Database
import Logging

/// `portcullis migrate`: runs the bundled migrations with a pool that lives only as long as the command.
public enum MigrationRuntime {
    public static func run(configuration: PortcullisConfiguration, logger: Logger) async throws -> Migrator.Report {
        let migrations = try Migration.bundled()
        let database = Database(url: try configuration.requireDatabaseURL(), pool: configuration.database.pool, logger: logger)
        return try await database.withRunning(logger: logger) { client in
            try await Migrator(client: client, logger: logger).apply(migrations)
        }
    }
}
