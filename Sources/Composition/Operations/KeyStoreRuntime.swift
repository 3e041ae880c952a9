import Database
import Identity
import Logging
import Tokens

/// The database-backed key ring for `portcullis keys … --database`: rotating there is seen by
/// every running replica (NOTIFY), which reloads its signer and published keys.
public enum KeyStoreRuntime {
    public static func withDatabaseStore<T: Sendable>(
        configuration: PortcullisConfiguration, logger: Logger, _ body: @Sendable (any KeyRingStore) async throws -> T
    ) async throws -> T {
        let database = Database(url: try configuration.requireDatabaseURL(), pool: configuration.database.pool, logger: logger)
        return try await database.withRunning(logger: logger) { client in try await body(PostgresKeyRingStore(client: client, logger: logger)) }
    }
}
