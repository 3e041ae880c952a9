import Foundation
import Tokens

/// Recomputes every writer's hash chain from the stored rows and names each record where it
/// breaks: a changed field, a deleted record (a gap in the sequence), an inserted or
/// duplicated record, or records moved out of order.
public struct AuditVerifier: Sendable {
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public enum Problem: String, Sendable, Equatable {
            /// The stored fields no longer produce the stored hash (edited, or moved to another position).
            case contentMismatch = "modified"
            /// Sequence numbers are missing between two records.
            case missing = "deleted"
            /// A sequence number appears twice, or goes backwards.
            case duplicate = "inserted"
            /// The record does not continue the hash of the record before it.
            case brokenLink = "broken link"
            /// A signed checkpoint vouches for records that are gone or different (e.g. the newest records deleted).
            case checkpointMismatch = "checkpoint mismatch"
            /// A checkpoint's signature does not verify with the published keys.
            case badCheckpointSignature = "bad checkpoint signature"
            /// The database no longer holds what an anchor outside it recorded.
            case anchorMismatch = "differs from its anchor"
            /// The chain does not begin with its writer's start, or goes on after its clean stop.
            case continuity = "continuity"
            /// Records older than their writer's checkpoint interval allows that no signed
            /// checkpoint covers: a crash before the next checkpoint, a writer without the signing
            /// keys, or deleted checkpoints. A gap in the evidence, not proof of tampering.
            case unvouched = "not vouched for"
            /// Records spanning more than a checkpoint interval allows between two checkpoints:
            /// checkpoints between them deleted, or the writer could not reach the database.
            case checkpointGap = "checkpoint gap"
        }

        public var problem: Problem
        public var writerID: UUID
        public var sequence: Int64
        public var eventID: UUID?
        public var requestID: String?
        public var detail: String

        public init(problem: Problem, writerID: UUID, sequence: Int64, eventID: UUID?, requestID: String? = nil, detail: String) {
            self.problem = problem
            self.writerID = writerID
            self.sequence = sequence
            self.eventID = eventID
            self.requestID = requestID
            self.detail = detail
        }

        /// Ids lower-case, as `audit search` prints them.
        public var description: String {
            let event = eventID.map { " event \($0.uuidString.lowercased())" } ?? ""
            let request = requestID.map { " request \($0)" } ?? ""
            return "\(problem.rawValue): writer \(writerID.uuidString.lowercased()) seq \(sequence)\(event)\(request): \(detail)"
        }
    }

    public struct Report: Sendable, Equatable {
        public var records = 0
        public var writers = 0
        public var checkpointsChecked = 0
        /// Anchors (``AuditAnchor``) the database was held to.
        public var anchorsChecked = 0
        /// Proof of tampering: records, checkpoints or anchors that do not hold.
        public var findings: [Finding] = []
        /// What the trail cannot prove (``Finding/Problem/unvouched``,
        /// ``Finding/Problem/checkpointGap``): nothing shows a change, but nothing signed rules one out.
        public var gaps: [Finding] = []
        /// Chains whose writer never recorded its clean stop: still being written, or ended by a
        /// crash that may have lost the events answered just before it. Not tampering, but a
        /// possible gap an auditor must see.
        public var openChains: [OpenChain] = []
        /// Per writer, the newest record a checkpoint whose signature was checked vouches for.
        public var vouchedThrough: [UUID: Int64] = [:]
        public var isIntact: Bool { findings.isEmpty }
    }

    public struct OpenChain: Sendable, Equatable, CustomStringConvertible {
        public var writerID: UUID
        public var lastSequence: Int64
        public var lastTimeMicros: Int64
        /// The writer's flush interval, from its start record (100 ms when it has none).
        public var flushIntervalMillis: Int
        /// Whether its answers waited for their events (`before_response`): then a crash lost none.
        public var durableBeforeResponse: Bool
        /// Records of its last second before the end, scaled to one flush interval: about how
        /// many answered requests a crash at that moment left unrecorded.
        public var estimatedMissing: Int

        public var description: String {
            let time = CivilTime.timestampText(micros: lastTimeMicros)
            let loss =
                durableBeforeResponse
                ? "its answers waited for their events (before_response): no answered request is missing"
                : "requests answered in the \(flushIntervalMillis) ms after it may be missing (about \(estimatedMissing) at its last rate)"
            return "no clean stop: writer \(writerID.uuidString.lowercased()) ends at seq \(lastSequence) (\(time)): "
                + "still running, or it ended abruptly; \(loss)"
        }
    }

    let store: AuditStore
    /// The checkpoint interval of writers whose start record does not state theirs.
    let checkpointInterval: Duration

    public init(store: AuditStore, checkpointInterval: Duration = .seconds(60)) {
        self.store = store
        self.checkpointInterval = checkpointInterval
    }

    /// With `since`, each writer's first record at or after that time is taken as the start of
    /// its chain (its previous hash is trusted); without it, every chain must start at sequence 1.
    ///
    /// Signed checkpoints are checked too: each must match the record it names, and with `keys`
    /// its signature must verify. A chain shorter than its newest checkpoint lost its tail.
    ///
    /// Every anchor (``AuditAnchor``, read from outside the database) must still be there: the
    /// anchored record with the same hash and event id, the anchored checkpoint with the same
    /// head and token.
    ///
    /// Every record must be covered by a signed checkpoint within about two of its writer's
    /// checkpoint intervals (the next checkpoint can be put off by one interval while the database
    /// is behind); what is not is a gap in the evidence (``Report/gaps``), judged at `now`.
    public func verify(
        since: Date? = nil, keys: VerificationKeys? = nil, anchors: [AuditAnchor] = [], now: Date = Date()
    ) async throws -> Report {
        let checkpoints = try await store.checkpoints()
        var walker = ChainWalker(requireGenesis: since == nil, defaultCheckpointInterval: checkpointInterval)
        for entry in checkpoints {
            walker.wanted[entry.checkpoint.writerID, default: []].insert(entry.checkpoint.sequence)
            walker.checkpointed[entry.checkpoint.writerID, default: []].insert(entry.checkpoint.sequence)
        }
        for anchor in anchors { walker.wanted[anchor.writerID, default: []].insert(anchor.sequence) }
        try await store.chainOrder(since: since) { walker.visit($0) }
        var report = walker.report
        report.findings += AnchorCheck(walker: walker, checkpoints: checkpoints, since: since).findings(anchors)
        report.anchorsChecked = anchors.count
        for (checkpoint, keyID, token) in checkpoints {
            guard let first = walker.firstSequence[checkpoint.writerID], checkpoint.sequence >= first else {
                if since == nil {
                    report.findings.append(
                        .init(
                            problem: .checkpointMismatch, writerID: checkpoint.writerID, sequence: checkpoint.sequence,
                            eventID: nil, detail: "a checkpoint vouches for a chain of which no record is left"))
                }
                continue
            }
            report.checkpointsChecked += 1
            let findingsBefore = report.findings.count
            if let keys, !checkpoint.isVouched(by: token, keyID: keyID, keys: keys) {
                report.findings.append(
                    .init(
                        problem: .badCheckpointSignature, writerID: checkpoint.writerID, sequence: checkpoint.sequence,
                        eventID: nil, detail: "signature by \(keyID) does not verify"))
            }
            let last = walker.lastSequence[checkpoint.writerID] ?? 0
            if last < checkpoint.sequence {
                report.findings.append(
                    .init(
                        problem: .checkpointMismatch, writerID: checkpoint.writerID, sequence: checkpoint.sequence,
                        eventID: nil, detail: "the chain ends at \(last) but was checkpointed at \(checkpoint.sequence): newest records deleted"))
            } else if let hash = walker.wantedRecords[checkpoint.writerID]?[checkpoint.sequence]?.hash, hash != checkpoint.headHash {
                report.findings.append(
                    .init(
                        problem: .checkpointMismatch, writerID: checkpoint.writerID, sequence: checkpoint.sequence,
                        eventID: nil, detail: "the record differs from the one the checkpoint vouched for"))
            }
            if keys != nil, report.findings.count == findingsBefore {
                report.vouchedThrough[checkpoint.writerID] = max(report.vouchedThrough[checkpoint.writerID] ?? 0, checkpoint.sequence)
            }
        }
        report.openChains = walker.openChains()
        report.gaps += walker.unvouchedTails(now: CivilTime.micros(now))
        return report
    }
}

/// The pure part of verification: fed records in (writer, sequence) order.
struct ChainWalker {
    let requireGenesis: Bool
    private(set) var report = AuditVerifier.Report()
    private var writer: UUID?
    private var expectedSequence: Int64 = 1
    private var previousHash: [UInt8] = HashChain.genesis
    /// Sequences checkpoints and anchors name, per writer (only those records are kept: memory
    /// stays small).
    var wanted: [UUID: Set<Int64>] = [:]
    private(set) var wantedRecords: [UUID: [Int64: WantedRecord]] = [:]
    private(set) var firstSequence: [UUID: Int64] = [:]
    private(set) var lastSequence: [UUID: Int64] = [:]
    /// Per writer: how it started, its newest records' times, and whether it stopped cleanly.
    private var tails: [UUID: ChainTail] = [:]

    /// Sequences signed checkpoints name, per writer.
    var checkpointed: [UUID: Set<Int64>] = [:]
    let defaultCheckpointInterval: Duration

    init(requireGenesis: Bool, defaultCheckpointInterval: Duration = .seconds(60)) {
        self.requireGenesis = requireGenesis
        self.defaultCheckpointInterval = defaultCheckpointInterval
    }

    mutating func visit(_ record: ChainedEvent) {
        report.records += 1
        typealias Finding = AuditVerifier.Finding
        func note(_ problem: Finding.Problem, _ detail: String) {
            report.findings.append(
                Finding(
                    problem: problem, writerID: record.writerID, sequence: record.sequence,
                    eventID: record.event.id, detail: detail))
        }
        if wanted[record.writerID]?.contains(record.sequence) == true {
            wantedRecords[record.writerID, default: [:]][record.sequence] = WantedRecord(
                hash: record.hash, eventID: record.event.id, requestID: record.event.requestID)
        }
        lastSequence[record.writerID] = max(lastSequence[record.writerID] ?? 0, record.sequence)
        if record.writerID != writer {
            writer = record.writerID
            firstSequence[record.writerID] = record.sequence
            report.writers += 1
            if requireGenesis {
                expectedSequence = 1
                previousHash = HashChain.genesis
            } else {
                expectedSequence = record.sequence
                previousHash = record.previousHash
            }
        }
        let recomputed = HashChain.hash(
            record.event, writerID: record.writerID, sequence: record.sequence,
            previousHash: record.previousHash)
        if recomputed != record.hash {
            note(.contentMismatch, "the stored fields do not produce the stored hash")
        }
        if record.sequence > expectedSequence {
            note(.missing, "records \(expectedSequence)...\(record.sequence - 1) are missing")
        } else if record.sequence < expectedSequence {
            note(.duplicate, "sequence \(record.sequence) appears again after \(expectedSequence - 1)")
        } else if record.previousHash != previousHash {
            note(.brokenLink, "its previous hash is not the hash of record \(record.sequence - 1)")
        }
        if requireGenesis, record.sequence == 1, !(record.event.kind == .writer && record.event.action == "writer.start") {
            note(.continuity, "the chain does not begin with its writer's start record")
        }
        if tails[record.writerID]?.stopped == true {
            note(.continuity, "a record after the writer's clean stop: nothing may follow it")
        }
        expectedSequence = max(expectedSequence, record.sequence + 1)
        previousHash = record.hash
        // Mutated in place: a copy of the tail would copy its recent times on every record.
        let interval = Int(defaultCheckpointInterval / .milliseconds(1))
        tails[record.writerID, default: ChainTail(checkpointIntervalMillis: interval)].note(record)
        if checkpointed[record.writerID]?.contains(record.sequence) == true, let tail = tails[record.writerID], let first = tail.uncovered {
            if record.event.timeMicros - first.timeMicros > tail.allowedUncoveredMicros {
                report.gaps.append(
                    Finding(
                        problem: .checkpointGap, writerID: record.writerID, sequence: first.sequence, eventID: first.eventID,
                        requestID: first.requestID,
                        detail: "records \(first.sequence)...\(record.sequence) span \(Self.seconds(record.event.timeMicros - first.timeMicros)) "
                            + "with no signed checkpoint between them (interval \(Self.seconds(Int64(tail.checkpointIntervalMillis) * 1000))): "
                            + "checkpoints deleted, or the writer could not reach the database for that long"))
            }
            tails[record.writerID]?.uncovered = nil
        }
    }

    /// Chains whose newest records no signed checkpoint covers although they are older than
    /// their writer's checkpoints allow.
    func unvouchedTails(now: Int64) -> [AuditVerifier.Finding] {
        tails.compactMap { writer, tail in
            guard let first = tail.uncovered, now - first.timeMicros > tail.allowedUncoveredMicros else { return nil }
            return AuditVerifier.Finding(
                problem: .unvouched, writerID: writer, sequence: first.sequence, eventID: first.eventID, requestID: first.requestID,
                detail: "records \(first.sequence)...\(tail.lastSequence) (the oldest of \(CivilTime.timestampText(micros: first.timeMicros))) "
                    + "are covered by no signed checkpoint: a crash before the next checkpoint, a writer without the signing keys, "
                    + "or deleted checkpoints (anchors tell which)")
        }.sorted { $0.writerID.uuidString < $1.writerID.uuidString }
    }

    private static func seconds(_ micros: Int64) -> String {
        "\(micros / 1_000_000) s"
    }

    func openChains() -> [AuditVerifier.OpenChain] {
        tails.filter { !$0.value.stopped }.map { writer, tail in
            let lastSecond = tail.recentTimes.count { $0 > tail.lastTime - 1_000_000 }
            return AuditVerifier.OpenChain(
                writerID: writer, lastSequence: tail.lastSequence, lastTimeMicros: tail.lastTime, flushIntervalMillis: tail.flushIntervalMillis,
                durableBeforeResponse: tail.durableBeforeResponse,
                estimatedMissing: tail.durableBeforeResponse ? 0 : (lastSecond * tail.flushIntervalMillis + 999) / 1000)
        }.sorted { $0.lastTimeMicros < $1.lastTimeMicros }
    }
}

/// What is kept of a record a checkpoint or an anchor names.
struct WantedRecord {
    let hash: [UInt8]
    let eventID: UUID
    let requestID: String?
}

/// What the end of one writer's chain says about how it ended.
struct ChainTail {
    /// The first record no checkpoint has covered yet.
    struct Uncovered {
        let sequence: Int64
        let timeMicros: Int64
        let eventID: UUID
        let requestID: String?
    }

    var checkpointIntervalMillis: Int
    var uncovered: Uncovered?
    var stopped = false
    var lastSequence: Int64 = 0
    var lastTime: Int64 = 0
    var flushIntervalMillis = 100
    var durableBeforeResponse = false
    /// Times of the newest records, enough to measure the rate of the last second.
    var recentTimes: [Int64] = []

    /// How long a record may wait for its checkpoint: one interval, another while the database
    /// is behind (a checkpoint waits for an empty spool), and 10 s for flushes and clocks.
    var allowedUncoveredMicros: Int64 { 2 * Int64(checkpointIntervalMillis) * 1000 + 10_000_000 }

    mutating func note(_ record: ChainedEvent) {
        let event = record.event
        lastSequence = record.sequence
        lastTime = event.timeMicros
        stopped = event.kind == .writer && event.action == "writer.stop"
        if event.kind == .writer, event.action == "writer.start", let details = event.details?.data(using: .utf8),
            let settings = try? JSONSerialization.jsonObject(with: details) as? [String: Any]
        {
            flushIntervalMillis = settings["flush_interval_ms"] as? Int ?? flushIntervalMillis
            checkpointIntervalMillis = settings["checkpoint_interval_ms"] as? Int ?? checkpointIntervalMillis
            durableBeforeResponse = settings["durability"] as? String == AuditDurability.beforeResponse.rawValue
        }
        if uncovered == nil {
            uncovered = Uncovered(sequence: record.sequence, timeMicros: event.timeMicros, eventID: event.id, requestID: event.requestID)
        }
        recentTimes.append(event.timeMicros)
        if recentTimes.count > 4_096 { recentTimes.removeFirst(2_048) }
    }
}
