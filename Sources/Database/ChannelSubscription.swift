import Logging
import PostgresNIO
import ServiceLifecycle

/// A LISTEN on one channel, kept open on a dedicated connection for as long as the process
/// runs, for state that other processes change and announce with NOTIFY.
///
/// On every (re)connect it LISTENs first and then calls `resync`, so a notification sent while
/// it was disconnected is never lost: the resync reads the state that notification announced.
/// Connection failures are retried with a growing delay (100 ms doubling to 5 s).
public struct ChannelSubscription: Sendable {
    let channel: String
    /// Names the subscriber in log lines ("revocation feed").
    let name: String
    let openConnection: @Sendable () async throws -> PostgresConnection
    let logger: Logger

    /// `openConnection` gives a connection outside the pool (see `Database.openDedicatedConnection`).
    public init(channel: String, name: String, openConnection: @escaping @Sendable () async throws -> PostgresConnection, logger: Logger) {
        self.channel = channel
        self.name = name
        self.openConnection = openConnection
        self.logger = logger
    }

    /// Runs until cancelled or a graceful shutdown. `resync` runs after each LISTEN is in place,
    /// `receive` for every notification's payload, `disconnected` whenever the connection is lost
    /// (state derived from the channel is then possibly stale until the next resync).
    public func run(resync: @escaping @Sendable () async throws -> Void, receive: @escaping @Sendable (String) async throws -> Void,
                    disconnected: () -> Void) async {
        var delay = Duration.milliseconds(100)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await listen(resync: resync, receive: receive)
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                logger.warning("\(name) disconnected; will resync", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
            }
            disconnected()
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    private func listen(resync: @escaping @Sendable () async throws -> Void, receive: @escaping @Sendable (String) async throws -> Void)
        async throws {
        let connection = try await openConnection()
        defer { Self.close(connection) }
        let (channel, name, logger) = (self.channel, self.name, self.logger)
        try await cancelWhenGracefulShutdown {
            try await connection.listen(on: channel) { notifications in
                try await resync()
                logger.info("\(name) synchronised", metadata: ["channel": "\(channel)"])
                for try await notification in notifications {
                    try await receive(notification.payload)
                }
            }
        }
    }

    /// Closes the LISTEN connection once its UNLISTEN has been processed. postgres-nio sends
    /// UNLISTEN without waiting when the listen closure exits; closing before it ran trips an
    /// assertion in its state machine, so a round trip goes first, in a task of its own that the
    /// (usually cancelled) caller cannot cancel.
    private static func close(_ connection: PostgresConnection) {
        Task {
            // Succeeded or failed, the round trip is over: nothing is in flight when close runs.
            _ = try? await connection.query("SELECT 1", logger: Logger(label: "portcullis.channel-subscription"))
            try? await connection.close()
        }
    }
}
