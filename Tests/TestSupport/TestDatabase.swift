import Database
import Foundation
import Logging
import PostgresNIO

/// Gives each test its own empty database on the throwaway cluster that `scripts/test` starts,
/// so tests run in parallel without seeing each other's rows.
///
/// There is no skip: without `PORTCULLIS_TEST_DATABASE_URL` a database test fails and says how to fix it.
public enum TestDatabase {
    public static let environmentVariable = "PORTCULLIS_TEST_DATABASE_URL"

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public static func serverURL() throws -> DatabaseURL {
        guard let text = ProcessInfo.processInfo.environment[environmentVariable], !text.isEmpty else {
            throw Unavailable(
                description: """
                    \(environmentVariable) is not set: this test needs a real PostgreSQL. \
                    Run scripts/test, or start one with `scripts/pg start DIR` and export the URL it prints.
                    """)
        }
        return try DatabaseURL(text)
    }

    /// Creates `portcullis_test_<random>`, runs `body` with its URL, and drops it afterwards.
    public static func withFreshDatabase<T: Sendable>(
        _ body: (DatabaseURL) async throws -> T
    ) async throws -> T {
        let server = try serverURL()
        let name = "portcullis_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await withClient(server) { client in
            _ = try await client.query("CREATE DATABASE \(unescaped: String(name))")
        }
        var url = server
        url.database = String(name)
        do {
            let result = try await body(url)
            try await drop(name: String(name), on: server)
            return result
        } catch {
            try? await drop(name: String(name), on: server)
            throw error
        }
    }

    private static func drop(name: String, on server: DatabaseURL) async throws {
        try await withClient(server) { client in
            _ = try await client.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)")
        }
    }

    /// Runs `body` with a live pool for `url`, shutting the pool down afterwards.
    public static func withClient<T: Sendable>(
        _ url: DatabaseURL, _ body: (PostgresClient) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "test-db")
        logger.logLevel = .error  // the pool warns about leases requested before run() starts; that race is harmless here
        let database = Database(url: url, pool: .init(maximumConnections: 4), logger: logger)
        return try await database.withRunning(logger: logger, body)
    }
}
