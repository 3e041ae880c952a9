import Foundation
import Tokens

/// The running head of one writer's chain. Each process starts a new chain (a new writer id),
/// so writers never contend on a shared head and replicas need no coordination.
public struct HashChain: Sendable {
    public static let genesis = [UInt8](repeating: 0, count: 32)

    public let writerID: UUID
    public private(set) var nextSequence: Int64 = 1
    public private(set) var head: [UInt8] = HashChain.genesis

    public init(writerID: UUID = UUID()) {
        self.writerID = writerID
    }

    public mutating func append(_ event: AuditEvent) -> ChainedEvent {
        let hash = Self.hash(event, writerID: writerID, sequence: nextSequence, previousHash: head)
        let chained = ChainedEvent(event: event, writerID: writerID, sequence: nextSequence, previousHash: head, hash: hash)
        head = hash
        nextSequence += 1
        return chained
    }

    /// The link hash over an unambiguous encoding: every field length-prefixed, nil distinct from empty.
    public static func hash(_ event: AuditEvent, writerID: UUID, sequence: Int64, previousHash: [UInt8]) -> [UInt8] {
        var encoder = CanonicalEncoder()
        encoder.append(uuid: writerID)
        encoder.append(sequence)
        encoder.append(uuid: event.id)
        encoder.append(event.timeMicros)
        encoder.append(event.kind.rawValue)
        encoder.append(event.requestID)
        encoder.append(event.principal)
        encoder.append(event.authMethod)
        encoder.append(event.action)
        encoder.append(event.route)
        encoder.append(event.target)
        encoder.append(event.clientAddress)
        encoder.append(event.outcome)
        encoder.append(Int64(event.policies.count))
        for policy in event.policies { encoder.append(policy) }
        encoder.append(event.policyVersion)
        encoder.append(event.upstreamStatus.map(Int64.init))
        encoder.append(event.durationMicros)
        encoder.append(event.details)
        return Digest.blake2b256([previousHash, encoder.bytes])
    }
}

struct CanonicalEncoder {
    private(set) var bytes: [UInt8]

    init() {
        bytes = []
        bytes.reserveCapacity(512)
    }

    mutating func append(_ value: Int64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: Int64?) {
        guard let value else {
            bytes.append(0)
            return
        }
        bytes.append(1)
        append(value)
    }

    mutating func append(_ text: String) {
        append(Int64(text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }

    mutating func append(_ text: String?) {
        guard let text else {
            bytes.append(0)
            return
        }
        bytes.append(1)
        append(text)
    }

    mutating func append(uuid: UUID) {
        withUnsafeBytes(of: uuid.uuid) { bytes.append(contentsOf: $0) }
    }
}
