import Foundation
import Tokens

/// A fact about one writer's chain kept outside PostgreSQL: its signed start, each signed
/// checkpoint, its clean stop. Whoever can rewrite the database can re-hash a chain and delete
/// its checkpoints, but cannot reach back into an anchor file or the log system the export
/// stream feeds; `audit verify --anchors` then demands that the database still holds every
/// anchored fact exactly (docs/audit.md).
///
/// One anchor is one JSON line: `{"anchor":"checkpoint","writer":…,"seq":…,"hash":…,"key_id":…,
/// "token":…,"time":…}` or `{"anchor":"writer.start"|"writer.stop","writer":…,"seq":…,"hash":…,
/// "event_id":…,"time":…}`, ids lower-case, hashes hex.
public struct AuditAnchor: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case writerStart = "writer.start"
        case checkpoint
        case writerStop = "writer.stop"
    }

    public var kind: Kind
    public var writerID: UUID
    public var sequence: Int64
    /// The record's hash (start, stop) or the checkpointed head hash.
    public var hash: [UInt8]
    /// The start or stop record's event id.
    public var eventID: UUID?
    /// A checkpoint's key id and signed token.
    public var keyID: String?
    public var token: String?
    public var timeMicros: Int64

    /// The anchor of a writer's start or clean stop record.
    init?(record: ChainedEvent) {
        guard record.event.kind == .writer, let kind = Kind(rawValue: record.event.action), kind != .checkpoint else { return nil }
        self.kind = kind
        writerID = record.writerID
        sequence = record.sequence
        hash = record.hash
        eventID = record.event.id
        timeMicros = record.event.timeMicros
    }

    /// The anchor of a stored checkpoint.
    init(checkpoint: AuditCheckpoint, keyID: String, token: String, timeMicros: Int64) {
        kind = .checkpoint
        writerID = checkpoint.writerID
        sequence = checkpoint.sequence
        hash = checkpoint.headHash
        self.keyID = keyID
        self.token = token
        self.timeMicros = timeMicros
    }

    /// The JSON line, without its newline.
    public var line: String {
        var object: [String: Any] = [
            "anchor": kind.rawValue, "writer": writerID.uuidString.lowercased(), "seq": sequence, "hash": Hex.text(hash),
            "time": AuditExportFormat.timestamp(timeMicros),
        ]
        object["event_id"] = eventID?.uuidString.lowercased()
        object["key_id"] = keyID
        object["token"] = token
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads one line; the error says what was expected.
    public init(line: String) throws(AuditAnchorError) {
        guard let data = line.data(using: .utf8), let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .malformed("not a JSON object")
        }
        guard let name = object["anchor"] as? String, let kind = Kind(rawValue: name) else {
            throw .malformed("\"anchor\" must be one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let writer = (object["writer"] as? String).flatMap(UUID.init(uuidString:)) else { throw .malformed("\"writer\" must be a UUID") }
        guard let sequence = (object["seq"] as? NSNumber)?.int64Value, sequence >= 1 else { throw .malformed("\"seq\" must be a positive integer") }
        guard let hash = (object["hash"] as? String).flatMap(Hex.bytes), hash.count == 32 else {
            throw .malformed("\"hash\" must be 64 hex digits")
        }
        guard let text = object["time"] as? String, let date = try? RFC3339.date(from: text) else {
            throw .malformed("\"time\" must be an RFC 3339 time")
        }
        let time = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        self.kind = kind
        writerID = writer
        self.sequence = sequence
        self.hash = hash
        timeMicros = time
        switch kind {
        case .checkpoint:
            guard let keyID = object["key_id"] as? String, let token = object["token"] as? String else {
                throw .malformed("a checkpoint anchor needs \"key_id\" and \"token\"")
            }
            self.keyID = keyID
            self.token = token
        case .writerStart, .writerStop:
            guard let eventID = (object["event_id"] as? String).flatMap(UUID.init(uuidString:)) else {
                throw .malformed("\"event_id\" must be a UUID")
            }
            self.eventID = eventID
        }
    }

}

public enum AuditAnchorError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    /// A line of an anchor file that is not an anchor.
    case invalidLine(file: String, line: Int, reason: String)
    case unreadable(file: String, reason: String)

    public var description: String {
        switch self {
        case let .malformed(reason): reason
        case let .invalidLine(file, line, reason): "\(file):\(line): not an audit anchor: \(reason)"
        case let .unreadable(file, reason): "cannot read \(file): \(reason)"
        }
    }
}
