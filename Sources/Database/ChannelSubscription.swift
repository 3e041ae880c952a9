import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// A LISTEN on one channel, kept open on a dedicated connection for as long as the process
/// runs, for state that other processes change and announce with NOTIFY.
///
/// On every (re)connect it LISTENs first and then calls `resync`, so a notification sent while
/// it was disconnected is never lost: the resync reads the state that notification announced.
/// While connected it proves the feed is live (``FeedLiveness``): its connection answers and no
/// notification takes longer than the bound to apply. A feed that fails to is dropped like a
/// lost connection, so state derived from the channel is never trusted longer than the bound
/// after the feed stopped delivering. Connection failures are retried after ``ReconnectDelay``.
public struct ChannelSubscription: Sendable {
    let channel: String
    /// Names the subscriber in log lines ("revocation feed").
    let name: String
    let openConnection: @Sendable () async throws -> PostgresConnection
    let liveness: FeedLiveness
    let logger: Logger

    /// `openConnection` gives a connection outside the pool (see `Database.openDedicatedConnection`).
    public init(
        channel: String, name: String, openConnection: @escaping @Sendable () async throws -> PostgresConnection,
        liveness: FeedLiveness = FeedLiveness(), logger: Logger
    ) {
        self.channel = channel
        self.name = name
        self.openConnection = openConnection
        self.liveness = liveness
        self.logger = logger
    }

    /// Runs until cancelled or a graceful shutdown. `resync` runs after each LISTEN is in place,
    /// `receive` for every notification's payload, `disconnected` whenever the connection is lost
    /// or the feed fails to prove it is live (state derived from the channel is then possibly
    /// stale until the next resync); it may be called more than once per loss.
    public func run(
        resync: @escaping @Sendable () async throws -> Void, receive: @escaping @Sendable (String) async throws -> Void,
        disconnected: @escaping @Sendable () -> Void
    ) async {
        var delay = ReconnectDelay()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let attempt = Attempt()
            let lost: any Error
            do {
                try await listen(attempt, resync: resync, receive: receive, disconnected: disconnected)
                lost = ChannelSubscriptionError.notificationsEnded(channel: channel)
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                lost = error
            }
            disconnected()
            if attempt.synchronized { delay.reset() }
            let wait = delay.advance()
            if lost is FeedLivenessFailure {
                logger.error(
                    "\(name) is not live; its state is treated as unknown until it reconnects",
                    metadata: ["channel": "\(channel)", "error": "\(lost)", "retry_in": "\(wait)"])
            } else {
                logger.warning("\(name) disconnected; will resync", metadata: ["error": "\(lost)", "retry_in": "\(wait)"])
            }
            try? await Task.sleep(for: wait)
        }
    }

    private func listen(
        _ attempt: Attempt, resync: @escaping @Sendable () async throws -> Void,
        receive: @escaping @Sendable (String) async throws -> Void, disconnected: @escaping @Sendable () -> Void
    ) async throws {
        let connection = try await openConnection()
        defer { Self.close(connection) }
        let (channel, name, liveness, logger) = (self.channel, self.name, self.liveness, self.logger)
        try await cancelWhenGracefulShutdown {
            try await connection.listen(on: channel) { notifications in
                try await resync()
                attempt.markSynchronized()
                logger.info("\(name) synchronised", metadata: ["channel": "\(channel)"])
                let pulse = FeedPulse()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await notification in notifications {
                            pulse.applying(true)
                            try await receive(notification.payload)
                            pulse.applying(false)
                        }
                        throw ChannelSubscriptionError.notificationsEnded(channel: channel)
                    }
                    group.addTask {
                        try await liveness.watch(connection, channel: channel, pulse: pulse, logger: logger, lost: disconnected)
                    }
                    _ = try await group.next()
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
            // Already closed (lost, or given up as silent): a query written now would never be answered.
            guard !connection.isClosed else { return }
            // Succeeded or failed, the round trip is over: nothing is in flight when close runs.
            _ = try? await connection.query("SELECT 1", logger: Logger(label: "portcullis.channel-subscription"))
            try? await connection.close()
        }
    }

    /// Whether one connection got as far as a completed resync.
    private final class Attempt: Sendable {
        private let done = Atomic(false)

        var synchronized: Bool { done.load(ordering: .acquiring) }

        func markSynchronized() { done.store(true, ordering: .releasing) }
    }
}

/// Why a LISTEN connection stopped delivering, other than a PostgreSQL error or ``FeedLivenessFailure``.
public enum ChannelSubscriptionError: Error, CustomStringConvertible {
    /// The notification stream finished: the connection was closed under the listener.
    case notificationsEnded(channel: String)
    /// The LISTEN connection was found closed before a liveness probe.
    case connectionClosed(channel: String)

    public var description: String {
        switch self {
        case let .notificationsEnded(channel): "the notifications for channel \(channel) ended (connection closed)"
        case let .connectionClosed(channel): "the LISTEN connection for channel \(channel) is closed"
        }
    }
}
