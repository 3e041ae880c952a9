import Foundation

/// Holds the database to the anchors kept outside it: each anchored record must be there with
/// its hash and event id, each anchored checkpoint with its head and token. A chain rewritten and
/// re-hashed, truncated, or deleted with its checkpoints cannot satisfy anchors it cannot reach.
struct AnchorCheck {
    let walker: ChainWalker
    /// The stored checkpoints by writer and sequence.
    let checkpoints: [UUID: [Int64: (head: [UInt8], token: String)]]
    /// With `since`, records before it were not read: anchors on them are not checked.
    let since: Date?

    init(walker: ChainWalker, checkpoints: [(checkpoint: AuditCheckpoint, keyID: String, token: String)], since: Date?) {
        self.walker = walker
        self.since = since
        var stored: [UUID: [Int64: (head: [UInt8], token: String)]] = [:]
        for entry in checkpoints {
            stored[entry.checkpoint.writerID, default: [:]][entry.checkpoint.sequence] = (entry.checkpoint.headHash, entry.token)
        }
        self.checkpoints = stored
    }

    func findings(_ anchors: [AuditAnchor]) -> [AuditVerifier.Finding] {
        var findings: [AuditVerifier.Finding] = []
        var gone: Set<UUID> = []
        for anchor in anchors {
            func finding(_ detail: String, _ record: WantedRecord? = nil) {
                findings.append(
                    .init(
                        problem: .anchorMismatch, writerID: anchor.writerID, sequence: anchor.sequence,
                        eventID: record?.eventID ?? anchor.eventID, requestID: record?.requestID, detail: detail))
            }
            if let since, anchor.timeMicros < CivilTime.micros(since) { continue }
            guard walker.lastSequence[anchor.writerID] != nil else {
                // One finding for a chain that is gone whole, not one per anchor of it.
                if gone.insert(anchor.writerID).inserted {
                    finding("the anchored chain is not in the database (\(anchor.kind.rawValue) anchored at \(anchor.time))")
                }
                continue
            }
            guard let record = walker.wantedRecords[anchor.writerID]?[anchor.sequence] else {
                finding("the anchored record (\(anchor.kind.rawValue)) is missing")
                continue
            }
            if record.hash != anchor.hash {
                finding("field hash: \(Hex.text(record.hash)) in the database, \(Hex.text(anchor.hash)) anchored (\(anchor.kind.rawValue))", record)
            }
            switch anchor.kind {
            case .writerStart, .writerStop:
                if let eventID = anchor.eventID, eventID != record.eventID {
                    finding(
                        "field event id: \(record.eventID.uuidString.lowercased()) in the database, \(eventID.uuidString.lowercased()) anchored",
                        record)
                }
            case .checkpoint:
                guard let stored = checkpoints[anchor.writerID]?[anchor.sequence] else {
                    finding("the anchored checkpoint is missing from audit_checkpoints", record)
                    continue
                }
                if stored.head != anchor.hash {
                    finding("field checkpoint head_hash: \(Hex.text(stored.head)) in the database, \(Hex.text(anchor.hash)) anchored", record)
                }
                if stored.token != anchor.token { finding("field checkpoint token: differs from the anchored one", record) }
            }
        }
        return findings
    }
}

extension AuditAnchor {
    /// When it was anchored, as the trail prints times.
    var time: String { AuditExportFormat.timestamp(timeMicros) }
}
