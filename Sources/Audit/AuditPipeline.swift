import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Tokens

/// The writer off the request path: a bounded in-memory queue drained in batches into
/// PostgreSQL, with the local spool as fallback while the database is unreachable or slow.
///
/// One pipeline is one hash chain (one writer id). Only `run()` chains and writes, so the
/// chain needs no lock; `record` takes one short uncontended lock to append to the queue.
public final class AuditPipeline: AuditRecorder, Service {
    public struct Configuration: Sendable {
        public var spoolDirectory: URL
        public var batchSize = 1_000
        public var flushInterval: Duration = .milliseconds(100)
        public var queueCapacity = 100_000
        /// Above this many spooled bytes, `fail_closed` stops admitting traffic.
        public var spoolLimitBytes = 1 << 30
        public var overflow: AuditOverflowPolicy = .failClosed
        public var durability: AuditDurability = .afterResponse
        /// A write slower than this is treated as a failure and the batch goes to the spool.
        public var writeTimeout: Duration = .seconds(5)
        public var retentionDays = 400
        public var partitionsAhead = 7
        public var maintenanceInterval: Duration = .seconds(3600)
        /// Signs the chain head at most this often (when it advanced).
        public var checkpointInterval: Duration = .seconds(60)
        /// The key to sign checkpoints with, asked at each checkpoint so that key rotation is
        /// followed; nil (or a nil answer): no checkpoints.
        public var checkpointSigner: (@Sendable () -> TokenSigner?)?
        /// The authenticator under which a checkpoint's public key is kept in the key archive
        /// (`ArchivedKeyAuthentication`); nil: keys are not archived.
        public var archivedKeyAuthenticator: (@Sendable (Ed25519PublicKey) -> String)?
        /// A continuous JSON-lines copy for central log systems; nil: none.
        public var exportSink: AuditExportSink?
        /// Where the writer's signed start, checkpoints and clean stop are anchored outside the
        /// database (they also go to `exportSink`); nil: nowhere but the export stream.
        public var anchorLog: AuditAnchorLog?

        public init(spoolDirectory: URL) {
            self.spoolDirectory = spoolDirectory
        }
    }

    /// Counters for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        public var accepted: Int
        public var written: Int
        public var spooled: Int
        public var replayed: Int
        public var dropped: Int
        public var queued: Int
        public var spoolBytes: Int
    }

    private let configuration: Configuration
    private let store: AuditStore
    private let logger: Logger
    private let queue = Mutex<[QueuedEvent]>([])
    private let doorbell = Doorbell()
    private let accepted = Atomic<Int>(0)
    private let written = Atomic<Int>(0)
    private let spooled = Atomic<Int>(0)
    private let replayed = Atomic<Int>(0)
    private let dropped = Atomic<Int>(0)
    private let spoolBytes = Atomic<Int>(0)
    /// Set while the last batch could be stored nowhere (database down and spool unwritable):
    /// `fail_closed` must then refuse traffic even though the queue still has room.
    private let losingEvents = Atomic<Bool>(false)
    public let writerID: UUID

    public init(configuration: Configuration, store: AuditStore, logger: Logger, writerID: UUID = UUID()) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.writerID = writerID
    }

    public func record(_ event: AuditEvent) -> Bool {
        enqueue(QueuedEvent(event: event))
    }

    public func recordBeforeAnswering(_ event: AuditEvent) async -> Bool {
        guard configuration.durability == .beforeResponse else {
            return record(event) || configuration.overflow == .dropWithAlarm
        }
        let stored = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            if enqueue(QueuedEvent(event: event, waiter: continuation)) {
                doorbell.ring()
            } else {
                continuation.resume(returning: false)
            }
        }
        return stored || configuration.overflow == .dropWithAlarm
    }

    private func enqueue(_ item: QueuedEvent) -> Bool {
        let capacity = configuration.queueCapacity
        let queued = queue.withLock { queue -> Bool in
            guard queue.count < capacity else { return false }
            queue.append(item)
            return true
        }
        if queued {
            accepted.add(1, ordering: .relaxed)
        } else {
            let total = dropped.add(1, ordering: .relaxed).newValue
            if total == 1 || total % 10_000 == 0 {
                logger.critical(
                    "audit queue full: event not recorded",
                    metadata: [
                        "dropped_total": "\(total)", "policy": "\(configuration.overflow.rawValue)",
                    ])
            }
        }
        return queued
    }

    public var isAcceptingTraffic: Bool {
        if configuration.overflow == .dropWithAlarm { return true }
        guard !losingEvents.load(ordering: .relaxed) else { return false }
        let queueHasRoom = queue.withLock { $0.count < configuration.queueCapacity }
        return queueHasRoom && spoolBytes.load(ordering: .relaxed) < configuration.spoolLimitBytes
    }

    public var statistics: Statistics {
        Statistics(
            accepted: accepted.load(ordering: .relaxed), written: written.load(ordering: .relaxed),
            spooled: spooled.load(ordering: .relaxed), replayed: replayed.load(ordering: .relaxed),
            dropped: dropped.load(ordering: .relaxed), queued: queue.withLock { $0.count },
            spoolBytes: spoolBytes.load(ordering: .relaxed))
    }

    /// Drains until graceful shutdown, then flushes what is queued (to the database or the spool).
    public func run() async throws {
        let spool = try AuditSpool(directory: configuration.spoolDirectory)
        spoolBytes.store(spool.sizeInBytes, ordering: .relaxed)
        var chain = HashChain(writerID: writerID)
        // Replay backs off while the database stays down, so spooling new batches is not held
        // up by a failing replay attempt after every batch.
        var backoff = ReplayBackoff()
        var nextMaintenance = ContinuousClock.now
        var nextCheckpoint = ContinuousClock.now + configuration.checkpointInterval
        var checkpointed: Int64 = 0
        // First in the chain, ahead of events recorded before the writer ran.
        queue.withLock { $0.insert(QueuedEvent(event: lifecycleEvent("writer.start")), at: 0) }
        logger.info("audit writer started", metadata: ["writer_id": "\(writerID)", "spool": "\(spool.directory.path)"])

        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if ContinuousClock.now >= nextMaintenance {
                await maintain()
                nextMaintenance = ContinuousClock.now + configuration.maintenanceInterval
            }
            await flush(chain: &chain, spool: spool, backoff: &backoff)
            if ContinuousClock.now >= nextCheckpoint {
                await checkpoint(chain, spool: spool, after: &checkpointed)
                nextCheckpoint = ContinuousClock.now + configuration.checkpointInterval
            }
            if queue.withLock({ $0.count }) < configuration.batchSize {
                // Graceful shutdown rings too, so stopping never waits out a long interval.
                await withGracefulShutdownHandler {
                    await doorbell.wait(atMost: configuration.flushInterval)
                } onGracefulShutdown: { [doorbell] in
                    doorbell.ring()
                }
            }
        }
        // Shutdown: whatever is still queued is chained and stored or spooled before we return,
        // and the chain ends with the clean stop that says nothing after it was lost, signed.
        // In a task of its own: when cancellation ended the loop (an operator command finishing),
        // it must not also cut these last writes short, or the stop would go to the spool and
        // never be checkpointed.
        await Task { [self, chain, backoff, checkpointed] in
            var (chain, backoff, checkpointed) = (chain, backoff, checkpointed)
            await flush(chain: &chain, spool: spool, backoff: &backoff)
            queue.withLock { $0.append(QueuedEvent(event: lifecycleEvent("writer.stop"))) }
            await flush(chain: &chain, spool: spool, backoff: &backoff)
            await checkpoint(chain, spool: spool, after: &checkpointed)
        }.value
        logger.info("audit writer stopped", metadata: ["statistics": "\(statistics)"])
    }

    /// Drains the queue in batches. Each batch is chained and encoded while the previous one is
    /// being written, so the database and this process work at the same time; deliveries still
    /// complete strictly in order (the spool keeps order too).
    private func flush(chain: inout HashChain, spool: AuditSpool, backoff: inout ReplayBackoff) async {
        var inFlight: Task<Void, Never>?
        while true {
            let batch = queue.withLock { queue -> [QueuedEvent] in
                let count = min(queue.count, configuration.batchSize)
                let batch = Array(queue.prefix(count))
                queue.removeFirst(count)
                return batch
            }
            if !batch.isEmpty {
                let chained = batch.map { chain.append($0.event.sanitizedForStorage()) }
                let encoded = AuditStore.EncodedBatch(chained)
                let waiters = batch.compactMap(\.waiter)
                await inFlight?.value
                inFlight = Task { [self] in
                    let stored = await deliver(chained, encoded: encoded, spool: spool)
                    for waiter in waiters { waiter.resume(returning: stored) }
                    export(chained)
                    if stored { anchor(chained.compactMap(AuditAnchor.init(record:))) }
                }
            }
            if batch.count < configuration.batchSize { break }
        }
        await inFlight?.value
        if !spool.isEmpty && backoff.mayTry(at: ContinuousClock.now) {
            let drained = await replay(spool)
            backoff.record(success: drained, at: ContinuousClock.now)
        }
    }

    /// Anchors outside the database: the anchor file first (synced), then the export stream.
    /// A failure is logged loudly; the trail in the database is unaffected.
    private func anchor(_ anchors: [AuditAnchor]) {
        guard !anchors.isEmpty else { return }
        do {
            try configuration.anchorLog?.append(anchors)
        } catch {
            logger.critical("audit anchors not written: tampering with this chain may go unnoticed", metadata: ["error": "\(error)"])
        }
        do {
            try configuration.exportSink?.export(anchors: anchors)
        } catch {
            logger.error("audit anchors not exported", metadata: ["error": "\(error)"])
        }
    }

    private func export(_ batch: [ChainedEvent]) {
        do {
            try configuration.exportSink?.export(batch)
        } catch {
            logger.error("audit export failed (the trail itself is unaffected)", metadata: ["error": "\(error)"])
        }
    }

    /// Signs and stores the chain head once every chained record is in the database (the spool
    /// is empty), so a checkpoint never vouches for records the table does not have yet.
    private func checkpoint(_ chain: HashChain, spool: AuditSpool, after checkpointed: inout Int64) async {
        let head = chain.nextSequence - 1
        guard let signer = configuration.checkpointSigner?(), head > checkpointed, spool.isEmpty else { return }
        let checkpoint = AuditCheckpoint(writerID: chain.writerID, sequence: head, headHash: chain.head)
        do {
            let (keyID, token) = try checkpoint.sign(with: signer)
            let archived = configuration.archivedKeyAuthenticator.map { ($0(signer.key.publicKey), signer.key.publicKey) }
            try await withTimeout(configuration.writeTimeout) { [store] in
                if let (authenticator, key) = archived { try await store.archive(key, authenticator: authenticator) }
                try await store.saveCheckpoint(checkpoint, keyID: keyID, token: token)
            }
            checkpointed = head
            anchor([
                AuditAnchor(
                    checkpoint: checkpoint, keyID: keyID, token: token, timeMicros: CivilTime.micros(Date()))
            ])
        } catch {
            logger.warning("audit checkpoint not stored; will retry", metadata: ["error": "\(error)"])
        }
    }

    /// Straight to the database when nothing is waiting in the spool (order is kept),
    /// otherwise to the spool behind the older batches. Returns whether the batch is stored.
    @discardableResult
    private func deliver(_ batch: [ChainedEvent], encoded: AuditStore.EncodedBatch, spool: AuditSpool) async -> Bool {
        // The writer's own records are not counted: the figures are the events recorded for others.
        let counted = batch.count { $0.event.kind != .writer }
        if spool.isEmpty {
            do {
                try await withTimeout(configuration.writeTimeout) { [store] in try await store.write(encoded) }
                written.add(counted, ordering: .relaxed)
                losingEvents.store(false, ordering: .relaxed)
                return true
            } catch {
                logger.error("audit write failed; spooling", metadata: ["error": "\(error)", "events": "\(batch.count)"])
            }
        }
        do {
            try spool.append(batch)
            spooled.add(counted, ordering: .relaxed)
            spoolBytes.store(spool.sizeInBytes, ordering: .relaxed)
            losingEvents.store(false, ordering: .relaxed)
            return true
        } catch {
            losingEvents.store(true, ordering: .relaxed)
            let total = dropped.add(counted, ordering: .relaxed).newValue
            logger.critical(
                "audit events lost: neither the database nor the spool took them",
                metadata: [
                    "error": "\(error)", "events": "\(batch.count)", "dropped_total": "\(total)",
                ])
            return false
        }
    }

    /// The writer's start or clean stop, with what a reader of the trail needs to judge a gap.
    private func lifecycleEvent(_ action: String) -> AuditEvent {
        let details =
            #"{"checkpoint_interval_ms":\#(Int(configuration.checkpointInterval / .milliseconds(1))),"durability":"\#(configuration.durability.rawValue)","flush_interval_ms":\#(Int(configuration.flushInterval / .milliseconds(1))),"pid":\#(getpid())}"#
        return AuditEvent(
            kind: .writer, principal: "Writer::\"\(writerID.uuidString.lowercased())\"", action: action, outcome: "recorded",
            details: details)
    }

    /// Moves spooled batches into the database, oldest first; stops at the first failure.
    /// Returns whether the spool was drained.
    private func replay(_ spool: AuditSpool) async -> Bool {
        // A short probe first: while the database is down, a full write timeout per attempt
        // would hold up spooling of the events still arriving.
        do {
            _ = try await withTimeout(.milliseconds(500)) { [store] in try await store.client.query("SELECT 1") }
        } catch {
            return false
        }
        for segment in spool.segments() {
            let contents: (batches: [[ChainedEvent]], torn: Bool)
            do {
                contents = try spool.batches(in: segment)
            } catch {
                logger.critical("unreadable audit spool segment", metadata: ["segment": "\(segment.lastPathComponent)", "error": "\(error)"])
                return false
            }
            for batch in contents.batches {
                do {
                    try await withTimeout(configuration.writeTimeout) { [store] in try await store.writeIdempotently(batch) }
                } catch {
                    return false
                }
                replayed.add(batch.count { $0.event.kind != .writer }, ordering: .relaxed)
            }
            if contents.torn {
                logger.warning(
                    "audit spool segment ends in a torn record (a crash mid-write; it was never acknowledged)",
                    metadata: ["segment": "\(segment.lastPathComponent)"])
            }
            spool.remove(segment)
            spoolBytes.store(spool.sizeInBytes, ordering: .relaxed)
            logger.notice(
                "replayed audit spool segment",
                metadata: [
                    "segment": "\(segment.lastPathComponent)",
                    "batches": "\(contents.batches.count)",
                ])
        }
        return true
    }

    /// Partitions ahead, retention behind. Failures are logged and retried next interval:
    /// writes create a missing partition themselves, so nothing is lost meanwhile.
    private func maintain() async {
        do {
            try await withTimeout(configuration.writeTimeout) { [store, configuration] in
                try await store.createPartitionsAhead(daysAhead: configuration.partitionsAhead)
                try await store.dropPartitions(olderThanDays: configuration.retentionDays)
            }
        } catch {
            // Stopping (a command that finished before its first maintenance did): nothing failed.
            if error is CancellationError || Task.isCancelled { return }
            logger.warning("audit partition maintenance failed", metadata: ["error": "\(error)"])
        }
    }
}

/// An event waiting to be chained, and the request waiting for it to be stored (`before_response`).
struct QueuedEvent: Sendable {
    var event: AuditEvent
    var waiter: CheckedContinuation<Bool, Never>? = nil
}

/// Exponential backoff between replay attempts: 0.5 s doubling to 5 s, reset by a success.
struct ReplayBackoff {
    private var delay: Duration = .zero
    private var notBefore: ContinuousClock.Instant?

    func mayTry(at now: ContinuousClock.Instant) -> Bool {
        notBefore.map { now >= $0 } ?? true
    }

    mutating func record(success: Bool, at now: ContinuousClock.Instant) {
        if success {
            delay = .zero
            notBefore = nil
        } else {
            delay = delay == .zero ? .milliseconds(500) : min(delay * 2, .seconds(5))
            notBefore = now + delay
        }
    }
}

extension AuditEvent {
    /// PostgreSQL text cannot hold NUL; replace it before hashing so the stored row and the
    /// hashed content are the same bytes.
    func sanitizedForStorage() -> AuditEvent {
        func clean(_ text: String?) -> String? {
            guard let text, text.unicodeScalars.contains("\u{0}") else { return text }
            return text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
        }
        var copy = self
        copy.requestID = clean(requestID)
        copy.principal = clean(principal)
        copy.authMethod = clean(authMethod)
        copy.action = clean(action) ?? ""
        copy.route = clean(route)
        copy.target = clean(target)
        copy.clientAddress = clean(clientAddress)
        copy.outcome = clean(outcome) ?? ""
        copy.policies = policies.map { clean($0) ?? "" }
        copy.policyVersion = clean(policyVersion)
        copy.details = clean(details)
        return copy
    }
}

/// Runs `operation`, cancelling it and throwing `TimeoutError` if it takes longer than `limit`.
func withTimeout<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeoutError(limit: limit)
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw TimeoutError(limit: limit) }
        return result
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "no answer within \(limit)" }
}
