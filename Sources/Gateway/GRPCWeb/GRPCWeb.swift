import AccessModel
import HTTPSyntax
import HTTPTypes
import Hummingbird

/// gRPC-Web (github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md), the form of gRPC a browser
/// can send: the same length-prefixed messages over HTTP/1.1 or HTTP/2, with the call's
/// trailers moved into the body as a last frame (browsers cannot read HTTP trailers), and in
/// the `-text` variant the whole body base64-encoded. On a route whose upstream speaks gRPC the
/// gateway turns such a call into plain gRPC before anything decides on it, so admission,
/// Cedar (`context.grpc`), the upstream and the watch of open calls see one kind of call, and
/// turns the answer back on the way out.
struct GRPCWeb: Sendable {
    /// Whether the bodies are base64 (`application/grpc-web-text`).
    let text: Bool
    /// What follows the protocol name in the content type, e.g. `+proto`, `+json;charset=utf-8`.
    let suffix: Substring

    /// The call's form, from its content type; nil for any other request.
    init?(_ fields: HTTPFields) {
        guard let contentType = fields[.contentType], let form = GRPCMethod.webForm(contentType: contentType) else { return nil }
        (text, suffix) = form
    }

    static let binaryType = "application/grpc-web"
    static let textType = "application/grpc-web-text"

    /// Whether the gateway translates the call: yes, unless its route's upstream speaks
    /// HTTP/1.1, which cannot carry gRPC and so is a gRPC-Web server itself: it gets the call as
    /// sent (decided with `context.grpc` all the same, and refused in gRPC-Web's form).
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
    /// (a gRPC-Web upstream's own, or an upstream that is not a gRPC server) passes as it is.
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
