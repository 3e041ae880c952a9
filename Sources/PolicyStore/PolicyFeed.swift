import Cedar
import Database
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Keeps one process enforcing the store's active policy version: LISTENs on
/// `PolicyVersions.channel`, re-reads the active version on every notification and on every
/// reconnect (so a push made while disconnected is picked up), and hands each new set to
/// `enforce` as a whole. A version that does not parse is refused and logged; the set in force stays.
public final class PolicyFeed: Service, Sendable {
    /// What this process enforces, as readiness and operators see it.
    public struct State: Sendable, Equatable {
        public struct Refusal: Sendable, Equatable {
            public let number: Int64
            public let reason: String
        }
        /// The version enforced, nil until one has been loaded.
        public var enforced: PolicyVersion?
        /// The active version, when it is not the one enforced because it did not parse.
        public var refused: Refusal?
        /// The store has no version yet (nothing was ever pushed).
        public var empty = false
        /// False until the first load, and again while the LISTEN connection is down or the feed
        /// is not proven live within its bound (``FeedLiveness``).
        public var synchronized = false
    }

    private let versions: PolicyVersions
    private let subscription: ChannelSubscription
    private let enforce: @Sendable (PolicySet, PolicyVersion) -> Void
    private let logger: Logger
    private let current = Mutex(State())
    /// `State.synchronized`, kept apart so the gateway reads it per request without a lock.
    private let synchronized = Atomic(false)

    /// `enforce` installs a parsed set (the gateway's `PolicyHolder`); it must be quick. Once the
    /// feed fails to prove it is live within `liveness.timeout` the state is no longer `synchronized`.
    public init(
        versions: PolicyVersions, openConnection: @escaping @Sendable () async throws -> PostgresConnection,
        liveness: FeedLiveness = FeedLiveness(), logger: Logger, enforce: @escaping @Sendable (PolicySet, PolicyVersion) -> Void
    ) {
        self.versions = versions
        self.subscription = ChannelSubscription(
            channel: PolicyVersions.channel, name: "policy feed", openConnection: openConnection,
            liveness: liveness, logger: logger)
        self.enforce = enforce
        self.logger = logger
    }

    public var state: State {
        var state = current.withLock { $0 }
        state.synchronized = isSynchronized
        return state
    }

    /// `state.synchronized` alone: read by the gateway on every request.
    public var isSynchronized: Bool { synchronized.load(ordering: .acquiring) }

    public func run() async throws {
        await subscription.run(
            resync: { try await self.synchronize() },
            receive: { _ in try await self.synchronize() },
            disconnected: { self.synchronized.store(false, ordering: .releasing) })
    }

    /// Loads the active version and enforces it if it differs from the one in force. Called once
    /// at start, before `run` (which then calls it on every notification and reconnect): never
    /// concurrently, so an older version can never replace a newer one.
    public func synchronize() async throws {
        try await loadActiveVersion()
        synchronized.store(true, ordering: .releasing)
    }

    private func loadActiveVersion() async throws {
        guard let active = try await versions.active() else {
            current.withLock { $0.empty = true }
            logger.warning("the policy store has no version yet: every request is denied until one is pushed (portcullis policy push)")
            return
        }
        let version = active.version
        if current.withLock({ $0.enforced?.hash }) == version.hash {
            current.withLock {
                $0.enforced = version
                $0.refused = nil
                $0.empty = false
            }
            return
        }
        switch active.bundle.parse(origin: active.origin) {
        case let .success(set):
            enforce(set, version)
            current.withLock {
                $0.enforced = version
                $0.refused = nil
                $0.empty = false
            }
            logger.notice(
                "policy version enforced",
                metadata: [
                    "policy_version": "\(version.number)", "hash": "\(version.hash)", "author": "\(version.author)",
                    "files": "\(active.bundle.policies.count)",
                ])
        case let .failure(error):
            current.withLock {
                $0.refused = State.Refusal(number: version.number, reason: error.description)
                $0.empty = false
            }
            logger.error(
                "policy version refused; the policies in force stay",
                metadata: [
                    "policy_version": "\(version.number)", "hash": "\(version.hash)", "error": "\(error)",
                    "enforced": "\(current.withLock { $0.enforced.map { "\($0.number) \($0.hash)" } } ?? "none")",
                ])
        }
    }
}
