import AccessModel
import HTTPSyntax
import HTTPTypes
import Hummingbird

/// gRPC-Web (github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md), the form of gRPC a browser
/// can send: the same length-prefixed messages over HTTP/1.1 or HTTP/2, with the call's
/// trailers moved into the body as a last frame (browsers cannot read HTTP trailers), and in
/// the `-text` variant the whole body base64-encoded. The gateway turns such a call into plain
/// gRPC before anything decides on it, so admission, Cedar (`context.grpc`), the upstream and
/// the watch of open calls see one kind of call, and turns the answer back on the way out.
struct GRPCWeb: Sendable {
    /// Whether the bodies are base64 (`application/grpc-web-text`).
    let text: Bool
    /// What follows the protocol name in the content type, e.g. `+proto`, `+json;charset=utf-8`.
    let suffix: Substring

    /// The call's form, from its content type; nil for any other request.
    init?(_ fields: HTTPFields) {
        guard let contentType = fields[.contentType], Self.starts(contentType, with: Self.binaryType) else { return nil }
        text = Self.starts(contentType, with: Self.textType)
        suffix = contentType.dropFirst((text ? Self.textType : Self.binaryType).count)
        guard suffix.isEmpty || suffix.first == "+" || suffix.first == ";" else { return nil }
    }

    /// Case-insensitive, without allocating: every request with a body asks.
    private static func starts(_ text: String, with prefix: String) -> Bool {
        func lowered(_ byte: UInt8) -> UInt8 { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte }
        return text.utf8.count >= prefix.utf8.count && text.utf8.prefix(prefix.utf8.count).lazy.map(lowered).elementsEqual(prefix.utf8)
    }

    static let binaryType = "application/grpc-web"
    static let textType = "application/grpc-web-text"

    /// Whether the gateway translates the call: yes, unless its route's upstream speaks
    /// HTTP/1.1, which cannot carry gRPC and so is a gRPC-Web server itself (it gets the call
    /// as sent, decided as a plain POST). A request no route serves is translated, so its
    /// refusal reaches the client in a form it reads.
    static func translates(_ head: HTTPRequest, routes: RouteTable<RouteSettings>) -> Bool {
        guard let canonical = try? RequestCanonicalizer.canonicalize(head), let route = routes.match(canonical)?.payload else { return true }
        return route.upstreamProtocol.isHTTP2
    }

    /// The call as gRPC: its content type, `te: trailers` as gRPC servers require, and for the
    /// text form a body decoded as it arrives (of a length no longer known in advance).
    func call(_ request: Request) -> Request {
        var head = request.head
        head.headerFields[.contentType] = "application/grpc" + suffix
        head.headerFields[.te] = "trailers"
        if text {
            head.headerFields[.contentLength] = nil
            head.headerFields[.transferEncoding] = "chunked"
        }
        var call = Request(head: head, body: request.body)
        if text { call.body = RequestBody(asyncSequence: Base64Decoding(base: request.body)) }
        return call
    }

    /// The answer as gRPC-Web: a gRPC answer (from the upstream or the gateway's own refusal)
    /// gets the web content type and its trailers as the body's last frame; any other answer
    /// (an upstream that is not a gRPC server) passes as it is.
    func answer(_ response: Response) -> Response {
        guard let contentType = response.headers[.contentType], GRPCMethod.isGRPC(contentType: contentType) else { return response }
        var response = response
        let codec = contentType.dropFirst("application/grpc".count)
        response.headers[.contentType] = (text ? Self.textType : Self.binaryType) + codec
        response.headers[.contentLength] = nil
        let body = response.body
        let text = text
        response.body = ResponseBody { writer in
            try await body.write(GRPCWebBodyWriter(base: writer, text: text))
        }
        return response
    }
}
