import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A refused request, answered as `{"error": code, "message": text, "fields"?: [...]}`.
public enum APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The gateway assertion is missing or invalid (401), or keys are unavailable (503).
    case rejected(AssertionRejection)
    /// The body or query failed validation; nothing was changed.
    case invalidInput([FieldError])
    case malformedBody(String)
    case notFound(String)
    case internalError(String)

    public var description: String {
        switch self {
        case let .rejected(rejection): rejection.description
        case let .invalidInput(fields): "invalid input: " + fields.map { "\($0.field): \($0.message)" }.joined(separator: "; ")
        case let .malformedBody(reason): "malformed body: \(reason)"
        case let .notFound(what): "\(what) not found"
        case let .internalError(reason): "internal error: \(reason)"
        }
    }

    public var status: HTTPResponse.Status {
        switch self {
        case .rejected(.keysUnavailable): .serviceUnavailable
        case .rejected: .unauthorized
        case .invalidInput, .malformedBody: .badRequest
        case .notFound: .notFound
        case .internalError: .internalServerError
        }
    }

    var code: String {
        switch self {
        case let .rejected(rejection): rejection.code
        case .invalidInput: "invalid_input"
        case .malformedBody: "malformed_body"
        case .notFound: "not_found"
        case .internalError: "internal_error"
        }
    }
}

extension APIError: HTTPResponseError {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields: [FieldError]?
        if case let .invalidInput(list) = self { fields = list }
        var headers: HTTPFields = [:]
        if case .rejected(.keysUnavailable) = self { headers[.retryAfter] = "5" }
        return JSONBody.response(status, ErrorBody(error: code, message: description, fields: fields), headers: headers)
    }
}

/// The JSON body of every refusal.
private struct ErrorBody: Encodable {
    var error: String
    var message: String
    var fields: [FieldError]?
}

/// One invalid field of a request body or query.
public struct FieldError: Error, Sendable, Equatable, Encodable {
    public var field: String
    public var message: String
}

/// JSON encoding shared by every answer: sorted keys, snake_case, ISO 8601 times.
enum JSONBody {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static func response(_ status: HTTPResponse.Status, _ body: some Encodable, headers: HTTPFields = [:]) -> Response {
        let data = (try? encoder.encode(body)) ?? Data(#"{"error":"internal_error","message":"response could not be encoded"}"#.utf8)
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
