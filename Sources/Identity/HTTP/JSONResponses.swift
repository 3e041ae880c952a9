import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// JSON responses of the identity API. Errors have one shape everywhere:
/// `{"error": code, "message": text, "fields": [{"field", "message"}]?}`; the OAuth endpoints
/// use RFC 6749's `{"error", "error_description"}` instead.
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func make(_ status: HTTPResponse.Status, _ body: some Encodable, headers: HTTPFields = [:]) -> Response {
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        var fields = headers
        fields[.contentType] = "application/json"
        if fields[.cacheControl] == nil { fields[.cacheControl] = "no-store" }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    struct ErrorBody: Encodable {
        var error: String
        var message: String
        var fields: [Field]?
        struct Field: Encodable {
            var field: String
            var message: String
        }
    }

    static func error(_ error: IdentityError) -> Response {
        let (status, code) = classify(error)
        var headers: HTTPFields = [:]
        if case let .throttled(seconds) = error { headers[.retryAfter] = "\(seconds)" }
        if case .unauthenticated = error { headers[.wwwAuthenticate] = #"Bearer realm="portcullis""# }
        var fields: [ErrorBody.Field]?
        if case let .invalidInput(errors) = error { fields = errors.map { ErrorBody.Field(field: $0.field, message: $0.message) } }
        let message = if case .unavailable = error { "the identity store is unavailable" } else { error.description }
        return make(status, ErrorBody(error: code, message: message, fields: fields), headers: headers)
    }

    static func classify(_ error: IdentityError) -> (HTTPResponse.Status, String) {
        switch error {
        case .invalidInput: (.badRequest, "invalid_input")
        case .malformedBody: (.badRequest, "malformed_body")
        case .notFound: (.notFound, "not_found")
        case .conflict: (.conflict, "conflict")
        case .invalidCredentials: (.unauthorized, "invalid_credentials")
        case .throttled: (.tooManyRequests, "throttled")
        case .unauthenticated: (.unauthorized, "unauthenticated")
        case .forbidden: (.forbidden, "forbidden")
        case .overloaded: (.serviceUnavailable, "overloaded")
        case .unavailable: (.serviceUnavailable, "unavailable")
        }
    }

    /// RFC 6749 §5.2 error response.
    static func oauthError(
        _ code: String, _ description: String, status: HTTPResponse.Status = .badRequest,
        headers: HTTPFields = [:]
    ) -> Response {
        var fields = headers
        fields[HTTPFields.pragma] = "no-cache"
        return make(status, ["error": code, "error_description": description], headers: fields)
    }
}

extension IdentityError {
    /// Turns anything thrown inside a handler into an `IdentityError`, so no stack trace or
    /// internal message reaches a client.
    static func from(_ error: any Error) -> IdentityError {
        if let error = error as? IdentityError { return error }
        return .unavailable("\(error)")
    }
}

extension HTTPFields {
    /// `Pragma: no-cache` on token responses, as RFC 6749 §5.1 asks for HTTP/1.0 caches.
    static let pragma = HTTPField.Name("Pragma")!
}
