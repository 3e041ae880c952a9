import Logging
import PostgresNIO
import Synchronization

/// How long a LISTEN feed may go without proving that it is live before the state derived from
/// it is treated as unknown.
///
/// A LISTEN connection that goes silent without an error (its backend frozen, a half-open TCP
/// connection after a partition or a failover) delivers nothing and reports nothing: without a
/// proof of life the last state would stay in force indefinitely. `database.feed_timeout`.
public struct FeedLiveness: Sendable, Equatable {
    /// The bound: a feed whose connection has not answered for this long, or that has been
    /// applying one change for this long, reports itself down.
    public var timeout: Duration

    public init(timeout: Duration = .seconds(5)) {
        self.timeout = timeout
    }

    /// A probe every fifth of the bound, so one slow answer does not make a feed miss it.
    var interval: Duration { timeout / 5 }
}

/// Why a feed stopped counting as live.
public enum FeedLivenessFailure: Error, CustomStringConvertible {
    /// The LISTEN connection answered no probe within the bound.
    case unanswered(channel: String, timeout: Duration)
    /// A notification has been in the works for longer than the bound (its reload hangs), so
    /// the ones queued behind it are not applied.
    case stuck(channel: String, timeout: Duration)

    public var description: String {
        switch self {
        case let .unanswered(channel, timeout): "no answer on the LISTEN connection for channel \(channel) within \(timeout)"
        case let .stuck(channel, timeout): "a notification on channel \(channel) has not been applied within \(timeout)"
        }
    }
}

extension FeedLiveness {
    /// Probes `connection` and watches `pulse` until the feed fails to prove it is live within
    /// the bound; then calls `lost` at once (a reload stuck in a query may delay the unwinding),
    /// closes the connection and throws ``FeedLivenessFailure``. Throws the connection's error if
    /// a probe fails. The probe repeats the LISTEN: a no-op for the server, but a full round trip
    /// through the listening backend, and it keeps that backend findable in `pg_stat_activity`
    /// by its `LISTEN` query.
    func watch(
        _ connection: PostgresConnection, channel: String, pulse: FeedPulse, logger: Logger, lost: @escaping @Sendable () -> Void
    )
        async throws
    {
        let (timeout, interval) = (timeout, interval)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    let sent = ContinuousClock.now
                    try await Self.abandonable {
                        // Abandoned probes write nothing: a query written while the connection
                        // closes trips postgres-nio's state machine ("Invalid query state machine
                        // action in state: .closing"), and one written after it closed would never
                        // be answered.
                        try Task.checkCancellation()
                        guard !connection.isClosed else { throw ChannelSubscriptionError.connectionClosed(channel: channel) }
                        try await connection.query(PostgresQuery(unsafeSQL: #"LISTEN "\#(channel)""#), logger: logger)
                    }
                    pulse.answered(sentAt: sent)
                    try await Task.sleep(until: sent + interval)
                }
            }
            group.addTask {
                while true {
                    let (failure, next) = pulse.check(timeout: timeout, channel: channel)
                    if let failure { throw failure }
                    try await Task.sleep(until: next)
                }
            }
            do {
                _ = try await group.next()
            } catch let cancelled as CancellationError {
                throw cancelled
            } catch {
                lost()
                // The probes stop first (an abandoned one writes nothing more), so no query is
                // written while the connection closes; closing fails the probe that may still
                // be waiting on a silent connection.
                group.cancelAll()
                while !group.isEmpty { _ = try? await group.next() }
                try? await connection.close()
                throw error
            }
        }
    }

    /// Runs `operation` in a task of its own and waits for it, unless cancelled first: a query
    /// on a silent connection ignores cancellation (until the connection is closed), and waiting
    /// for it would keep the feed from ever reconnecting.
    private static func abandonable(_ operation: @escaping @Sendable () async throws -> Void) async throws {
        let (outcome, continuation) = AsyncThrowingStream<Void, any Error>.makeStream()
        let task = Task {
            do {
                try await operation()
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        for try await _ in outcome {}
        try Task.checkCancellation()
    }
}
