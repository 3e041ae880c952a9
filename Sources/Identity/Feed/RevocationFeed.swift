import AccessModel
import Database
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Tokens

/// Revocations and the role hierarchy as seen by one process, kept current by LISTEN on the
/// identity service's NOTIFY channel.
///
/// On every (re)connect it first LISTENs and then reloads everything from the tables, so a
/// notification sent while it was disconnected is never lost: the reload contains it. Checks
/// read an immutable snapshot under a short lock and never touch the database.
public final class RevocationFeed: Service, Sendable {
    /// Everything a request check needs, replaced as a whole.
    public struct Snapshot: Sendable {
        /// Revoked session ids → when the entry can be forgotten.
        var sessions: [String: Date] = [:]
        /// Revoked token ids (`jti`) → when the entry can be forgotten.
        var tokens: [String: Date] = [:]
        /// Subjects → tokens issued at or before this instant are revoked.
        var subjects: [String: (revokedAt: Date, expiresAt: Date)] = [:]
        /// Revoked certificate serials (`Certificate.SerialNumber.hex`) → the certificate's notAfter.
        var certificates: [String: Date] = [:]
        public var hierarchy: RoleHierarchy = .empty
        /// Active service accounts by the SPIFFE ID bound to them: how a client certificate becomes a principal.
        public private(set) var services: [String: ServiceAccount] = [:]
        /// Every service account's status and roles by name: service tokens are decided on these.
        public private(set) var serviceAccounts: [String: AccountState] = [:]
        /// Every user's status, roles and groups by login: sessions and access tokens are decided
        /// on these, not on the roles they were issued with.
        public var accounts: [String: AccountState] = [:]
        /// False until the first full load, and again while disconnected or not proven live
        /// within the feed's bound (``FeedLiveness``): revocations may then be missing.
        public var synchronized = false

        mutating func apply(_ revocation: Revocation) {
            switch revocation.kind {
            case .session: sessions[revocation.value] = max(sessions[revocation.value] ?? .distantPast, revocation.expiresAt)
            case .token: tokens[revocation.value] = max(tokens[revocation.value] ?? .distantPast, revocation.expiresAt)
            case .subject:
                let previous = subjects[revocation.value]
                subjects[revocation.value] = (
                    max(previous?.revokedAt ?? .distantPast, revocation.revokedAt),
                    max(previous?.expiresAt ?? .distantPast, revocation.expiresAt)
                )
            case .certificate:
                certificates[revocation.value] = max(certificates[revocation.value] ?? .distantPast, revocation.expiresAt)
            }
        }

        mutating func setServices(_ all: [ServiceAccount]) {
            services = [:]
            serviceAccounts = [:]
            for service in all {
                serviceAccounts[service.name] = AccountState(isActive: service.status == .active, roles: service.roles, groups: [])
                if service.status == .active, let spiffeID = service.spiffeID { services[spiffeID] = service }
            }
        }

        mutating func forgetExpired(now: Date) {
            sessions = sessions.filter { $0.value > now }
            tokens = tokens.filter { $0.value > now }
            subjects = subjects.filter { $0.value.expiresAt > now }
            certificates = certificates.filter { $0.value > now }
        }

        /// Serials of revoked client certificates that have not expired yet: what a gateway's TLS
        /// verifier refuses (`ClientTrust.setRevokedSerials`).
        public var revokedSerials: Set<String> { Set(certificates.keys) }

        /// Whether a client certificate, by `Certificate.SerialNumber.hex`, has been revoked.
        public func isCertificateRevoked(serial: String) -> Bool { certificates[serial] != nil }

        /// Whether a token with these claims has been revoked (its session, itself, or its subject).
        public func isRevoked(_ claims: Claims) -> Bool {
            if let session = claims.sessionID, sessions[session] != nil { return true }
            if tokens[claims.tokenID] != nil { return true }
            if let subject = subjects[claims.subject], claims.issuedAt <= subject.revokedAt { return true }
            return false
        }

        /// Whether a session (e.g. behind a browser cookie) has been revoked.
        public func isSessionRevoked(_ sessionID: String) -> Bool { sessions[sessionID] != nil }
    }

    private let state = Mutex(Snapshot())
    private let store: IdentityStore
    private let subscription: ChannelSubscription
    private let logger: Logger
    private let onKeysChanged: @Sendable () async -> Void
    private let changeCount = Atomic<Int>(0)
    private let observers = Mutex<[@Sendable (Snapshot) -> Void]>([])

    /// `openConnection` gives a connection outside the pool for the LISTEN (see
    /// `Database.openDedicatedConnection`); once the feed fails to prove it is live within
    /// `liveness.timeout` the snapshot is no longer `synchronized`; `onKeysChanged` runs when
    /// another replica rotated the signing keys.
    public init(
        store: IdentityStore, openConnection: @escaping @Sendable () async throws -> PostgresConnection,
        liveness: FeedLiveness = FeedLiveness(), logger: Logger, onKeysChanged: @escaping @Sendable () async -> Void = {}
    ) {
        self.store = store
        self.subscription = ChannelSubscription(
            channel: IdentityChange.channel, name: "revocation feed", openConnection: openConnection,
            liveness: liveness, logger: logger)
        self.logger = logger
        self.onKeysChanged = onKeysChanged
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    /// Calls `observer` with the current snapshot now and with every new one after a change is
    /// applied or a resync completes. For state that lives outside the feed and must follow it
    /// (the gateway's TLS verifier holds the revoked certificate serials), so it is updated as
    /// soon as the notification arrives rather than polled. Observers run on the feed's task and
    /// must be quick.
    public func observe(_ observer: @escaping @Sendable (Snapshot) -> Void) {
        observers.withLock { $0.append(observer) }
        observer(snapshot)
    }

    private func publish() {
        let current = snapshot
        for observer in observers.withLock({ $0 }) { observer(current) }
    }

    /// How many notifications and resyncs have been applied: lets tests and tools measure
    /// propagation without sleeping blindly.
    public var appliedChanges: Int { changeCount.load(ordering: .acquiring) }

    public func run() async throws {
        await subscription.run(
            resync: { try await self.resync() },
            receive: { try await self.apply($0) },
            disconnected: { self.state.withLock { $0.synchronized = false } })
    }

    private func resync() async throws {
        let revocations = try await store.activeRevocations()
        let hierarchy = try await store.hierarchy()
        let services = try await store.allServices()
        let accounts = try await store.accountStates()
        var fresh = Snapshot()
        fresh.setServices(services)
        fresh.accounts = accounts
        for revocation in revocations { fresh.apply(revocation) }
        fresh.hierarchy = hierarchy
        fresh.synchronized = true
        state.withLock { $0 = fresh }
        publish()
        await onKeysChanged()
        changeCount.add(1, ordering: .releasing)
    }

    private func apply(_ payload: String) async throws {
        switch IdentityChange(payload: payload) {
        case let .revoked(revocation)?:
            state.withLock { snapshot in
                snapshot.forgetExpired(now: Date())
                snapshot.apply(revocation)
            }
        case .hierarchyChanged?:
            let hierarchy = try await store.hierarchy()
            let services = try await store.allServices()
            let accounts = try await store.accountStates()
            state.withLock { snapshot in
                snapshot.hierarchy = hierarchy
                snapshot.setServices(services)
                snapshot.accounts = accounts
            }
        case .keysChanged?:
            await onKeysChanged()
        case nil:
            logger.warning("unreadable identity notification; resynchronising")
            try await resync()
        }
        publish()
        changeCount.add(1, ordering: .releasing)
    }
}
