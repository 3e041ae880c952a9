import Foundation

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
        }

        public var problem: Problem
        public var writerID: UUID
        public var sequence: Int64
        public var eventID: UUID?
        public var detail: String

        public var description: String {
            "\(problem.rawValue): writer \(writerID) seq \(sequence)\(eventID.map { " (event \($0))" } ?? ""): \(detail)"
        }
    }

    public struct Report: Sendable, Equatable {
        public var records = 0
        public var writers = 0
        public var findings: [Finding] = []
        public var isIntact: Bool { findings.isEmpty }
    }

    let store: AuditStore

    public init(store: AuditStore) {
        self.store = store
    }

    /// With `since`, each writer's first record at or after that time is taken as the start of
    /// its chain (its previous hash is trusted); without it, every chain must start at sequence 1.
    public func verify(since: Date? = nil) async throws -> Report {
        var walker = ChainWalker(requireGenesis: since == nil)
        try await store.chainOrder(since: since) { walker.visit($0) }
        return walker.report
    }
}

/// The pure part of verification: fed records in (writer, sequence) order.
struct ChainWalker {
    let requireGenesis: Bool
    private(set) var report = AuditVerifier.Report()
    private var writer: UUID?
    private var expectedSequence: Int64 = 1
    private var previousHash: [UInt8] = HashChain.genesis

    init(requireGenesis: Bool) {
        self.requireGenesis = requireGenesis
    }

    mutating func visit(_ record: ChainedEvent) {
        report.records += 1
        typealias Finding = AuditVerifier.Finding
        func note(_ problem: Finding.Problem, _ detail: String) {
            report.findings.append(Finding(problem: problem, writerID: record.writerID, sequence: record.sequence,
                                           eventID: record.event.id, detail: detail))
        }
        if record.writerID != writer {
            writer = record.writerID
            report.writers += 1
            if requireGenesis {
                expectedSequence = 1
                previousHash = HashChain.genesis
            } else {
                expectedSequence = record.sequence
                previousHash = record.previousHash
            }
        }
        let recomputed = HashChain.hash(record.event, writerID: record.writerID, sequence: record.sequence,
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
        expectedSequence = max(expectedSequence, record.sequence + 1)
        previousHash = record.hash
    }
}
