import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The JSON API of one collection under `/v1/<collection>`: list (filtered by query), read and
/// create; `registerUpdates` adds partial update with `PATCH` for `UpdatableRecord`s.
enum CollectionRoutes {
    typealias DemoRouter = Router<DemoRequestContext>

    static func register<Record: DemoRecord>(_ store: RecordStore<Record>, on router: DemoRouter) {
        let base = RouterPath("/v1/\(Record.collection)")
        router.get(base) { request, context in
            let caller = try context.requireCaller()
            let records = store.list(
                matching: try filters(request.uri.queryParameters.map { (String($0.key), String($0.value)) }, allowed: Record.filters))
            return JSONBody.response(.ok, ListBody(collection: Record.collection, records: records, caller: caller))
        }
        router.get(RouterPath("/v1/\(Record.collection)/:id")) { _, context in
            let id = try context.parameters.require("id")
            guard let record = store.find(id) else { throw APIError.notFound("\(Record.collection) '\(id)'") }
            return JSONBody.response(.ok, record)
        }
        router.post(base) { request, context in
            let caller = try context.requireCaller()
            let record = try store.create(try await input(request), by: caller, at: Date())
            return JSONBody.response(.created, record, headers: [.location: "/v1/\(Record.collection)/\(record.id)"])
        }
    }

    /// `PATCH /v1/<collection>/{id}`, in addition to what `register` adds.
    static func registerUpdates<Record: UpdatableRecord>(_ store: RecordStore<Record>, on router: DemoRouter) {
        router.patch(RouterPath("/v1/\(Record.collection)/:id")) { request, context in
            let caller = try context.requireCaller()
            let id = try context.parameters.require("id")
            return JSONBody.response(.ok, try store.update(id, with: try await input(request), by: caller, at: Date()))
        }
    }

    /// The request body as validated JSON input.
    private static func input(_ request: Request) async throws -> InputReader {
        let body = try await request.body.collect(upTo: InputReader.maxBodyBytes)
        return try InputReader(json: Data(buffer: body))
    }

    /// Query parameters as exact-match filters; unknown or repeated parameters are refused.
    static func filters(_ parameters: [(String, String)], allowed: [String]) throws(APIError) -> [String: String] {
        var filters: [String: String] = [:]
        var problems: [FieldError] = []
        for (name, value) in parameters {
            if !allowed.contains(name) {
                problems.append(FieldError(field: name, message: "is not a filter (use: \(allowed.joined(separator: ", ")))"))
            } else if filters[name] != nil {
                problems.append(FieldError(field: name, message: "is given more than once"))
            } else {
                filters[name] = value
            }
        }
        if !problems.isEmpty { throw .invalidInput(problems) }
        return filters
    }
}

/// `{"<collection>": [...], "caller": {...}}`: the records, and who the gateway said asked.
struct ListBody<Record: Encodable>: Encodable {
    let collection: String
    let records: [Record]
    let caller: Caller

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(records, forKey: Key(stringValue: collection))
        try container.encode(caller, forKey: Key(stringValue: "caller"))
    }
}
