import Logging
import PostgresNIO
import ServiceLifecycle

/// The shared PostgreSQL connection pool of one Portcullis process.
///
/// It is a `Service`: the pool only hands out connections while `run()` is running, so it
/// belongs in the process's `ServiceGroup` ahead of everything that queries.
public struct Database: Service {
    public struct PoolSettings: Sendable, Equatable {
        public var minimumConnections: Int
        public var maximumConnections: Int
        public var connectTimeout: Duration

        public init(minimumConnections: Int = 0, maximumConnections: Int = 10, connectTimeout: Duration = .seconds(5)) {
            self.minimumConnections = minimumConnections
            self.maximumConnections = maximumConnections
            self.connectTimeout = connectTimeout
        }
    }

    public let client: PostgresClient
    public let url: DatabaseURL
    private let running = RunningSignal()

    public init(url: DatabaseURL, pool: PoolSettings = .init(), logger: Logger) {
        var configuration = url.clientConfiguration()
        configuration.options.minimumConnections = pool.minimumConnections
        configuration.options.maximumConnections = pool.maximumConnections
        configuration.options.connectTimeout = pool.connectTimeout
        self.client = PostgresClient(configuration: configuration, backgroundLogger: EarlyLeaseFilter.applied(to: logger))
        self.url = url
    }

    public func run() async throws {
        // Nothing suspends between raising the signal and `PostgresClient.run()` marking itself
        // running, so a command that waits for the signal does not lease too early (which
        // PostgresNIO answers with a warning on the command's standard error).
        running.raise()
        await client.run()
    }

    /// Returns once `run()` has started: commands that run the pool beside their own work wait
    /// for it before their first query.
    public func waitUntilRunning() async {
        await running.wait()
    }

    /// Whether a trivial query completes within `timeout`; the reason when it does not.
    /// A timed-out lease is cancelled, so probes never pile up behind an unreachable server.
    public func ping(timeout: Duration) async -> DatabaseHealth {
        let client = self.client
        return await withTaskGroup(of: DatabaseHealth.self) { group in
            group.addTask {
                do {
                    try await client.query("SELECT 1")
                    return .reachable
                } catch is CancellationError {
                    return .unreachable("timed out")
                } catch {
                    return .unreachable(PostgresErrorText.describe(error))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .unreachable("no answer within \(timeout)")
            }
            let first = await group.next() ?? .unreachable("probe cancelled")
            group.cancelAll()
            return first
        }
    }
}

public enum DatabaseHealth: Sendable, Equatable {
    case reachable
    case unreachable(String)
}

extension Database {
    /// Opens a connection of its own, outside the pool, for a LISTEN that lives as long as the
    /// process. The caller closes it; the pool never sees it, so stopping the listener cannot
    /// race with the pool closing connections.
    public func openDedicatedConnection(logger: Logger) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            configuration: try url.connectionConfiguration(), id: Int.random(in: 1_000_000...Int.max), logger: logger)
    }

    /// Runs the pool only for the duration of `body`: for commands (`migrate`, `audit verify`)
    /// rather than long-running services. See ``BackgroundWork`` for how it stops.
    public func withRunning<T: Sendable>(logger: Logger, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let (result, stoppedInTime) = try await BackgroundWork.during([{ try await self.run() }]) {
            await waitUntilRunning()
            return try await body(client)
        }
        if !stoppedInTime { logger.warning("the database pool did not stop within 5 s; the command ends anyway") }
        return result
    }
}
