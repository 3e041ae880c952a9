import Logging
import PostgresNIO
import Synchronization

/// How long a LISTEN feed may go without proving that its connection still answers before the
/// state derived from it is treated as unknown.
///
/// A LISTEN connection that goes silent without an error (its backend frozen, a half-open TCP
/// connection after a partition or a failover) delivers nothing and reports nothing: without a
/// proof of life the last state would stay in force indefinitely. `database.feed_timeout`.
public struct FeedLiveness: Sendable, Equatable {
    /// The bound: silence longer than this makes the feed report itself down.
    public var timeout: Duration

    public init(timeout: Duration = .seconds(5)) {
        self.timeout = timeout
    }

    /// A probe every fifth of the bound, so one slow answer does not make a feed miss it.
    var interval: Duration { timeout / 5 }
}

/// The LISTEN connection did not answer a probe within the feed's bound.
public struct FeedSilence: Error, CustomStringConvertible {
    public let channel: String
    public let timeout: Duration

    public var description: String { "no answer on the LISTEN connection for channel \(channel) within \(timeout)" }
}

extension FeedLiveness {
    /// Probes `connection` until it fails to answer within the bound, then closes it and throws
    /// ``FeedSilence``; throws the connection's error if a probe fails. The probe repeats the
    /// LISTEN: a no-op for the server, but a full round trip through the listening backend,
    /// and it keeps that backend findable in `pg_stat_activity` by its `LISTEN` query.
    func watch(_ connection: PostgresConnection, channel: String, logger: Logger) async throws {
        let lastAnswer = LastAnswer()
        let (timeout, interval) = (timeout, interval)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    let sent = ContinuousClock.now
                    try await connection.query(PostgresQuery(unsafeSQL: #"LISTEN "\#(channel)""#), logger: logger)
                    lastAnswer.record(sent)
                    try await Task.sleep(until: sent + interval)
                }
            }
            group.addTask {
                while true {
                    let deadline = lastAnswer.instant + timeout
                    guard ContinuousClock.now < deadline else { throw FeedSilence(channel: channel, timeout: timeout) }
                    try await Task.sleep(until: deadline)
                }
            }
            do {
                try await group.next()
            } catch let cancelled as CancellationError {
                throw cancelled
            } catch {
                // A probe waiting on a silent connection ignores cancellation; closing fails it.
                try? await connection.close()
                throw error
            }
        }
    }
}

/// When the listening connection last proved it answers: the instant its latest answered probe was sent.
private final class LastAnswer: Sendable {
    private let value = Mutex(ContinuousClock.now)

    var instant: ContinuousClock.Instant { value.withLock { $0 } }

    func record(_ sent: ContinuousClock.Instant) { value.withLock { $0 = max($0, sent) } }
}
