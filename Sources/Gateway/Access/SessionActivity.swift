import Logging
import ServiceLifecycle
import Synchronization

/// The identity sessions that carried requests lately, reported in batches so each session's
/// "last seen" follows its use without a database write per request.
public final class SessionActivity: Sendable {
    private let seen = Mutex<Set<String>>([])

    public init() {}

    /// Per request with a session: one uncontended lock and a set insert.
    func saw(_ sessionID: String) {
        seen.withLock { _ = $0.insert(sessionID) }
    }

    /// The sessions seen since the last call.
    func drain() -> [String] {
        seen.withLock { seen in
            defer { seen.removeAll(keepingCapacity: true) }
            return Array(seen)
        }
    }
}

/// Reports ``SessionActivity`` to the identity service every `interval`, and once more at shutdown.
public struct SessionActivityReporter: Service {
    let activity: SessionActivity
    let identity: any BrowserSignIn
    let interval: Duration

    public init(activity: SessionActivity, identity: any BrowserSignIn, interval: Duration = .seconds(30)) {
        self.activity = activity
        self.identity = identity
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            let seen = activity.drain()
            if !seen.isEmpty { await identity.sessionsSeen(seen) }
        }
    }
}
