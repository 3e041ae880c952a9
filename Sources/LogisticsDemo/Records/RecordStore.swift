import Foundation
import Synchronization

/// A record one of the demo APIs serves: built from validated input, changed by validated
/// partial input, and filterable on a few string fields.
protocol DemoRecord: Encodable, Sendable {
    /// Collection name in paths and list bodies: `/v1/<collection>`, `{"<collection>": [...]}`.
    static var collection: String { get }
    /// Prefix of generated ids (`SHP-`, `VEH-`, ...).
    static var idPrefix: String { get }
    /// Query parameters a list may be filtered on (exact match).
    static var filters: [String] { get }

    var id: String { get }
    /// The value a filter compares with, for a name in `filters`.
    func filterValue(_ name: String) -> String?
    /// A new record from a create body; nil only if `input` recorded a problem.
    static func create(_ input: inout InputReader, id: String, by caller: Caller, at now: Date) -> Self?
}

/// A record that `PATCH` may change.
protocol UpdatableRecord: DemoRecord {
    /// Applies the fields present in a partial update body (problems go to `input`).
    mutating func update(_ input: inout InputReader, by caller: Caller, at now: Date)
}

/// Who created or last changed a record and when: the gateway-asserted subject and the gateway's
/// request id, never a name the client supplied.
struct Change: Encodable, Sendable, Equatable {
    var by: String
    var requestId: String
    var at: Date

    init(_ caller: Caller, _ now: Date) {
        by = caller.subject
        requestId = caller.requestID
        at = now
    }

    /// A change made before the process started (seed data).
    init(seededBy: String, at: Date) {
        by = seededBy
        requestId = "seed"
        self.at = at
    }
}

/// An in-memory collection, seeded at start and lost at exit (the demo's state is not the point).
/// Every change happens under one lock on a copy, so a refused change leaves nothing behind.
final class RecordStore<Record: DemoRecord>: Sendable {
    private let state: Mutex<(records: [Record], nextNumber: Int)>

    init(seed: [Record], firstNumber: Int) {
        state = Mutex((seed, firstNumber))
    }

    func list(matching filters: [String: String]) -> [Record] {
        state.withLock { state in
            state.records.filter { record in filters.allSatisfy { record.filterValue($0.key) == $0.value } }
        }
    }

    func find(_ id: String) -> Record? {
        state.withLock { $0.records.first { $0.id == id } }
    }

    /// Validates `input` into a new record with the next id and stores it.
    func create(_ input: InputReader, by caller: Caller, at now: Date) throws(APIError) -> Record {
        try state.withLock { state throws(APIError) in
            var input = input
            let record = Record.create(&input, id: Record.idPrefix + String(state.nextNumber), by: caller, at: now)
            try input.finish()
            guard let record else { throw .internalError("\(Record.self) not built although its input was valid") }
            state.records.append(record)
            state.nextNumber += 1
            return record
        }
    }
}

extension RecordStore where Record: UpdatableRecord {
    /// Applies `input` to a copy of the record and stores the copy only if the input was valid.
    func update(_ id: String, with input: InputReader, by caller: Caller, at now: Date) throws(APIError) -> Record {
        try state.withLock { state throws(APIError) in
            guard let index = state.records.firstIndex(where: { $0.id == id }) else { throw .notFound("\(Record.collection) '\(id)'") }
            guard !input.isEmpty else { throw .invalidInput([FieldError(field: "(body)", message: "names no field to change")]) }
            var input = input
            var record = state.records[index]
            record.update(&input, by: caller, at: now)
            try input.finish()
            state.records[index] = record
            return record
        }
    }
}
