import AccessModel
import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Synchronization

/// Sends the canonical request to the route's upstream over a pooled keep-alive connection of
/// the `UpstreamClient` and streams both bodies: nothing is buffered whole. Redirects are
/// passed back, never followed, and content is never decoded.
public struct UpstreamForwarder: Sendable {
    let client: UpstreamClient

    public init(client: UpstreamClient) {
        self.client = client
    }

    /// Methods whose request may be sent again when a reused connection turned out to be closed
    /// before any response arrived (only without a body, so nothing is lost either).
    private static let replayableMethods: Set<HTTPRequest.Method> = [.get, .head, .options, .trace]

    /// The upstream's answer, and for a call that ended with its head, the gRPC status its
    /// trailers gave.
    struct Forwarded {
        let response: Response
        let grpcStatus: Int?
    }

    /// Forwards over the route's protocol. `origin` is what a gRPC call or a response that keeps
    /// streaming is watched with (``StreamWatch``; its `callTimeout`, the call's `grpc-timeout`,
    /// bounds the call as a whole); `clientChannel` holds the request trailers to pass on.
    func forward(
        _ request: Request, canonical: CanonicalRequest, route: RouteSettings, headers: HTTPFields,
        eventLoop: any EventLoop, toHTTP2Client: Bool, origin: StreamOrigin? = nil, clientChannel: (any Channel)? = nil
    ) async throws(UpstreamFailure) -> Forwarded {
        guard let endpoint = route.endpoint else { throw .unreachable("invalid upstream URL") }
        let framing = Self.upstreamFraming(canonical, fromHTTP2Client: toHTTP2Client)
        var head = Self.requestHead(canonical, framing: framing, endpoint: endpoint, headers: headers)
        // gRPC servers ask for `te: trailers`: the client's promise to read them, passed on.
        if route.upstreamProtocol.isHTTP2, request.headers[values: .te].contains(where: { $0.lowercased().contains("trailers") }) {
            head.headers.add(name: "te", value: "trailers")
        }
        let timeout = origin?.callTimeout.map { min($0, route.timeout) } ?? route.timeout
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        // The client's request trailers go on where the upstream request can carry them.
        var trailers: (@Sendable () async -> HTTPFields?)?
        if let clientChannel, framing == .chunked || (route.upstreamProtocol.isHTTP2 && framing != .unframed) {
            trailers = { await RequestTrailers.last(on: clientChannel).flatMap(RequestTrailerFilter.forwardable) }
        }
        func exchange(on connection: UpstreamConnection) async throws(ExchangeFailure) -> Forwarded {
            try await self.exchange(
                request, on: connection, head: head, framing: framing, route: route, deadline: deadline, toHTTP2Client: toHTTP2Client,
                origin: origin, trailers: trailers)
        }
        if route.upstreamProtocol.isHTTP2 {
            let connection = try await client.http2.stream(
                to: endpoint, tls: route.upstreamTLS?.http2Context, on: eventLoop, deadline: deadline,
                readTimeout: origin?.opening.grpc != nil ? nil : TimeAmount(client.timeouts.read))
            do throws(ExchangeFailure) {
                return try await exchange(on: connection)
            } catch {
                switch error {
                case .stale: throw .unreachable("the HTTP/2 stream closed before the request was sent")
                case let .failed(failure, _): throw failure
                }
            }
        }
        let tls = route.upstreamTLS?.context
        var fresh = false
        var staleConnections = 0
        while true {
            let (connection, reused) = try await client.connection(to: endpoint, tls: tls, on: eventLoop, deadline: deadline, fresh: fresh)
            do throws(ExchangeFailure) {
                return try await exchange(on: connection)
            } catch {
                switch error {
                case .stale:
                    // Closed while idle in the pool, before anything was sent on it.
                    staleConnections += 1
                    fresh = staleConnections > 2
                case let .failed(failure, beforeResponse):
                    guard reused, beforeResponse, !fresh, framing == .unframed, Self.replayableMethods.contains(canonical.method)
                    else { throw failure }
                    // The upstream closed a kept-alive connection as the request went out: once
                    // more on a new connection.
                    fresh = true
                }
            }
        }
    }

    /// How the request body travels upstream. An HTTP/2 request without `Content-Length` may
    /// still have a body (the rest of its stream): it is sent chunked, except for methods that
    /// carry none by convention, so such a body is never silently dropped.
    static func upstreamFraming(_ canonical: CanonicalRequest, fromHTTP2Client: Bool) -> BodyFraming {
        if fromHTTP2Client, canonical.bodyFraming == .unframed, !replayableMethods.contains(canonical.method) { return .chunked }
        return canonical.bodyFraming
    }

    private func exchange(
        _ request: Request, on connection: UpstreamConnection, head: HTTPRequestHead, framing: BodyFraming,
        route: RouteSettings, deadline: NIODeadline, toHTTP2Client: Bool, origin: StreamOrigin?,
        trailers: (@Sendable () async -> HTTPFields?)?
    ) async throws(ExchangeFailure) -> Forwarded {
        let started = connection.start(head, hasBody: framing != .unframed, deadline: deadline)
        if framing != .unframed {
            do { try await started.sent.get() } catch { throw .stale }
        }
        // Counts the upload, for the audit record of a response that keeps streaming.
        let meter = ByteMeter()
        // A gRPC call is watched from the start: a client-streaming call may wait long for its answer.
        var watch = origin.flatMap { $0.opening.grpc == nil ? nil : StreamWatch(kind: .stream, origin: $0, bytesUp: meter) }
        var watcher = watch?.start(closing: connection)
        // Sent alongside the wait for the response, which may start before the body ends.
        let upload: Task<Void, Never>? =
            switch framing {
            case .unframed: nil
            case .contentLength:
                Task { await connection.upload(MeteredBody(base: request.body, limit: .max, meter: meter), trailers: trailers) }
            case .chunked:
                Task { await connection.upload(MeteredBody(base: request.body, limit: route.maxBodyBytes, meter: meter), trailers: trailers) }
            }
        let start: ResponseStart
        do {
            start = try await started.response.get()
        } catch {
            watcher?.cancel()
            upload?.cancel()
            await upload?.value
            if let watch, let closure = watch.closure, let (code, message) = closure.grpcStatus {
                // The gateway ended the call while its answer was awaited.
                await watch.finish(closure, bytesDown: 0, grpcStatus: code, status: 200)
                let requestID = watch.openingRequestID
                return Forwarded(response: GRPCRefusal.response(code: code, message: message, requestID: requestID, headers: [:]), grpcStatus: code)
            }
            throw error as? ExchangeFailure ?? .failed(.unreachable("\(error)"), beforeResponse: true)
        }
        var fields = HTTPFields()
        fields.reserveCapacity(start.head.headers.count)
        for header in start.head.headers {
            guard let name = HTTPField.Name(header.name) else { continue }
            fields.append(HTTPField(name: name, value: header.value))
        }
        let status = HTTPResponse.Status(code: Int(start.head.status.code), reasonPhrase: start.head.status.reasonPhrase)
        // Hop-by-hop headers stay with the upstream connection (RFC 9110 §7.6.1).
        let headers = IdentityHeaderFilter.removingHopByHop(from: fields)
        if start.complete {
            // The response is over: a request body still being sent is no longer wanted.
            watcher?.cancel()
            upload?.cancel()
            await upload?.value
            var headers = headers
            var responseTrailers = StreamedResponse.fields(start.trailers)
            if origin?.opening.grpc != nil, responseTrailers == nil { responseTrailers = Self.movingGRPCStatus(from: &headers) }
            let grpcStatus = responseTrailers?[GRPCRefusal.status].flatMap { Int($0) }
            return Forwarded(
                response: Response(
                    status: status, headers: headers,
                    body: Self.completeBody(
                        start.body, trailers: responseTrailers, status: status, method: head.method, toHTTP2Client: toHTTP2Client,
                        framed: headers[.contentLength] != nil)),
                grpcStatus: grpcStatus)
        }
        if watch == nil, let origin {
            watch = StreamWatch(kind: .stream, origin: origin, bytesUp: meter)
            watcher = watch?.start(closing: connection)
        }
        let stream = StreamedResponse(
            connection: connection, upload: upload, watch: watch, watcher: watcher, grpc: origin?.opening.grpc != nil,
            status: Int(status.code), requestID: origin?.opening.requestID ?? "")
        return Forwarded(
            response: Response(
                status: status, headers: headers,
                body: ResponseBody { writer in
                    try await stream.relay(to: &writer)
                }),
            grpcStatus: nil)
    }

    /// A gRPC "trailers-only" answer (status and metadata in a head that ends the stream) as
    /// head and trailers: every field but the content type moves to the trailers. The server
    /// side cannot end a stream with its head, and a client that gets the head and then an
    /// empty end reads no status at all; head then trailers is the other form the protocol
    /// (PROTOCOL-HTTP2.md) allows. nil when the head carries no status.
    static func movingGRPCStatus(from headers: inout HTTPFields) -> HTTPFields? {
        // A gRPC-Web upstream's answer keeps its status in the head: its clients read it there.
        guard headers[GRPCRefusal.status] != nil, headers[.contentType].map(GRPCMethod.isGRPC(contentType:)) ?? true else { return nil }
        let trailers = HTTPFields(headers.filter { $0.name != .contentType && $0.name != .contentLength })
        headers = HTTPFields(headers.filter { $0.name == .contentType })
        return trailers
    }

    /// A body that arrived whole with its head. Without a `Content-Length` from the upstream
    /// the server adds one, except where a response may not carry it (HEAD, 1xx, 204, 304).
    ///
    /// To an HTTP/1.1 client the response goes out in one batched write (head, body, end). To
    /// an HTTP/2 client it is written as head, then body, then end: on an HTTP/2 connection
    /// that is draining at shutdown, Hummingbird 2.28 closes the connection as the batch closes
    /// the last stream, before it is flushed, and the client loses the response
    /// (`shutdownDrainsRequestsInFlight`).
    static func completeBody(
        _ parts: [ByteBuffer], trailers: HTTPFields? = nil, status: HTTPResponse.Status, method: HTTPMethod, toHTTP2Client: Bool,
        framed: Bool
    ) -> ResponseBody {
        let lengthless = !framed && (method == .HEAD || status.kind == .informational || status == .noContent || status == .notModified)
        if !toHTTP2Client, !lengthless, trailers == nil, parts.count <= 1 {
            return parts.first.map(ResponseBody.init(byteBuffer:)) ?? ResponseBody()
        }
        // Trailers go out after a body of unannounced length (chunked to an HTTP/1.1 client).
        let length = lengthless || trailers != nil ? nil : parts.reduce(0) { $0 + $1.readableBytes }
        return ResponseBody(contentLength: length) { writer in
            if !parts.isEmpty { try await writer.write(contentsOf: parts) }
            try await writer.finish(trailers)
        }
    }

    /// The request head sent upstream: the canonical target under the upstream's base path,
    /// the upstream's own `Host`, the filtered fields, and framing that matches the body sent.
    static func requestHead(_ canonical: CanonicalRequest, framing: BodyFraming, endpoint: UpstreamEndpoint, headers: HTTPFields) -> HTTPRequestHead {
        var nio = HTTPHeaders()
        nio.reserveCapacity(headers.count + 2)
        nio.add(name: "Host", value: endpoint.authority)
        for field in headers where field.name != .contentLength && field.name != .transferEncoding {
            nio.add(name: field.name.canonicalName, value: field.value)
        }
        switch framing {
        case let .contentLength(length): nio.add(name: "Content-Length", value: String(length))
        case .chunked: nio.add(name: "Transfer-Encoding", value: "chunked")
        case .unframed:
            if canonical.method == .post || canonical.method == .put || canonical.method == .patch { nio.add(name: "Content-Length", value: "0") }
        }
        return HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: canonical.method.rawValue),
            uri: endpoint.basePath + canonical.forwardedTarget, headers: nio)
    }

    /// The upstream base URL with the canonical target appended under its path.
    static func url(_ base: URL, target: String) -> String {
        var text = base.absoluteString
        if text.hasSuffix("/") { text.removeLast() }
        return text + target
    }
}
