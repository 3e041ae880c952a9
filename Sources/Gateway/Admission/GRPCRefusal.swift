import AccessModel
import HTTPTypes
import Hummingbird

/// A refusal as a gRPC client can read it: HTTP 200, `content-type: application/grpc`, no
/// message, and the status in the trailers (`grpc-status`, `grpc-message`), as the gRPC over
/// HTTP/2 protocol has every call end. A JSON or HTML body would reach the client as a
/// protocol error with no reason.
enum GRPCRefusal {
    /// A request from a gRPC client (`application/grpc`, `application/grpc+proto`, …), or from a
    /// gRPC-Web client (the answer is turned into its form on the way out, ``GRPCWeb``).
    static func isGRPC(_ fields: HTTPFields) -> Bool {
        fields[.contentType].map { GRPCMethod.isGRPC(contentType: $0) || GRPCMethod.webForm(contentType: $0) != nil } ?? false
    }

    /// The gRPC status for the gateway's own HTTP answers: the meaning, not the HTTP number.
    static func code(for status: HTTPResponse.Status) -> Int {
        switch status.code {
        case 400: 3  // INVALID_ARGUMENT
        case 401: 16  // UNAUTHENTICATED
        case 403: 7  // PERMISSION_DENIED
        case 404: 12  // UNIMPLEMENTED: no route serves this service and method
        case 413, 429, 431: 8  // RESOURCE_EXHAUSTED
        case 502, 503, 504: 14  // UNAVAILABLE
        case 500: 13  // INTERNAL
        default: 2  // UNKNOWN
        }
    }

    static func response(_ status: HTTPResponse.Status, message: String, requestID: String, headers: HTTPFields) -> Response {
        response(code: code(for: status), message: message, requestID: requestID, headers: headers)
    }

    /// A call ended by the gateway with `code`, before any answer from the upstream.
    static func response(code: Int, message: String, requestID: String, headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = "application/grpc"
        fields[GatewayHeaders.requestID] = requestID
        let trailers = trailers(code: code, message: message, requestID: requestID)
        return Response(status: .ok, headers: fields, body: ResponseBody { writer in try await writer.finish(trailers) })
    }

    /// The trailers that end a call with `code`: the status, its reason, and the request id
    /// (clients read trailing metadata more readily than headers of a failed call).
    static func trailers(code: Int, message: String, requestID: String) -> HTTPFields {
        [status: String(code), Self.message: percentEncoded(message), GatewayHeaders.requestID: requestID]
    }

    static let status = HTTPField.Name("grpc-status")!
    static let message = HTTPField.Name("grpc-message")!
    static let statusDetails = HTTPField.Name("grpc-status-details-bin")!

    /// gRPC's `grpc-message` encoding: printable ASCII but `%` as is, every other byte `%XX`.
    static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                encoded.append(Character(UnicodeScalar(byte)))
            } else {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
