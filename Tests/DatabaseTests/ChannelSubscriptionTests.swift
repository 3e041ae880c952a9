import Foundation
import Logging
import PostgresNIO
import Synchronization
import TestSupport
import Testing
@testable import Database

/// The LISTEN loop under the revocation and policy feeds.
@Suite struct ChannelSubscriptionTests {
    static let quietLogger: Logger = {
        var logger = Logger(label: "subscription-test")
        logger.logLevel = .critical
        return logger
    }()

    struct Refused: Error {}

    /// What the test's closures observed, shared with the subscription's task.
    final class Observed: Sendable {
        let failuresLeft: Mutex<Int>
        let resyncs = Mutex<[ContinuousClock.Instant]>([])

        init(failures: Int) { failuresLeft = Mutex(failures) }

        /// Whether this connection attempt must fail.
        func refuse() -> Bool {
            failuresLeft.withLock { left in
                defer { left -= 1 }
                return left > 0
            }
        }
    }

    /// Six failed attempts grow the delay to its 5 s ceiling; once a connection has synchronised,
    /// losing it is retried after 100 ms again. Before the reset, every later outage waited 5 s
    /// first, for the life of the process.
    @Test func theReconnectDelayStartsOverAfterASynchronisedConnection() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let logger = Self.quietLogger
            let observed = Observed(failures: 6)
            let subscription = ChannelSubscription(channel: "subscription_test", name: "test feed", openConnection: {
                if observed.refuse() { throw Refused() }
                return try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 1, logger: logger)
            }, logger: logger)
            let running = Task {
                await subscription.run(resync: { observed.resyncs.withLock { $0.append(.now) } }, receive: { _ in }, disconnected: {})
            }
            defer { running.cancel() }
            try await Self.waitUntil("the first synchronisation", timeout: .seconds(20)) { observed.resyncs.withLock { $0.count } == 1 }

            let lost = try await TestDatabase.withClient(url) { client in
                let rows = try await client.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'
                    """)
                var terminated = 0
                for try await done in rows.decode(Bool.self) where done { terminated += 1 }
                #expect(terminated == 1)
                return ContinuousClock.now
            }
            try await Self.waitUntil("the resync after the lost connection", timeout: .seconds(10)) { observed.resyncs.withLock { $0.count } == 2 }
            let gap = observed.resyncs.withLock { $0[1] } - lost
            print("resynchronised \(gap) after the LISTEN connection was terminated (after six failed attempts before it)")
            #expect(gap < .seconds(2), "the delay grown by the earlier failures was kept")
            running.cancel()
            _ = await running.value
        }
    }

    static func waitUntil(_ what: String, timeout: Duration, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw PortcullisProcess.Failure(description: "timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
