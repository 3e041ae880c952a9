import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import Gateway

/// An upstream that answers the first request of each connection and closes the connection
/// when a second one arrives: a kept-alive connection it dropped just as the gateway reused it.
final class DroppingUpstream: Sendable {
    /// What the upstream saw: `<connection> <method> <path>` for every request, in order.
    final class Log: Sendable {
        private let lines = Mutex<[String]>([])
        private let connections = Atomic(0)

        func newConnection() -> Int { connections.add(1, ordering: .relaxed).newValue }
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    let received = Log()
    private let channel: any Channel

    init() async throws {
        let received = self.received
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                let number = received.newConnection()
                return channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(AnswerOnce(connection: number, received: received))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    var url: URL { URL(string: "http://127.0.0.1:\(channel.localAddress!.port!)")! }

    func stop() async throws { try await channel.close() }

    private final class AnswerOnce: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let connection: Int
        let received: Log
        var answered = false

        init(connection: Int, received: Log) {
            self.connection = connection
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head):
                received.append("\(connection) \(head.method.rawValue) \(head.uri)")
            case .body:
                break
            case .end:
                guard !answered else {
                    context.close(promise: nil)
                    return
                }
                answered = true
                let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "2"])
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

/// Reads a response body to its end, as the listener does when it writes it to the client.
final class BodyCollector: ResponseBodyWriter {
    var text = ""

    func write(_ buffer: ByteBuffer) async throws { text += String(buffer: buffer) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}

    static func read(_ response: Response) async throws -> String {
        let collector = BodyCollector()
        try await response.body.write(collector)
        return collector.text
    }
}

extension UpstreamClient {
    /// Waits (at most 5 s) until `count` connections are back in the pool: the exchange hands its
    /// connection back on the connection's event loop, just after the last body part.
    func waitForIdleConnections(_ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while idleConnections < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
    }
}

/// The retry rule of `UpstreamForwarder`: a request that met a reused connection closed under
/// it is sent once more on a new connection only when sending it again cannot do anything twice
/// (a method without side effects and no body); anything else is answered 502.
@Suite struct UpstreamRetryTests {
    func send(
        _ forwarder: UpstreamForwarder, _ method: HTTPRequest.Method, _ path: String, body: String? = nil,
        route: RouteSettings
    ) async throws(UpstreamFailure) -> Response {
        var fields = HTTPFields()
        if let body { fields[.contentLength] = String(body.utf8.count) }
        let head = HTTPRequest(method: method, scheme: "https", authority: "shipments.test", path: path, headerFields: fields)
        let canonical = try! RequestCanonicalizer.canonicalize(head)
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(string: body ?? "")))
        return try await forwarder.forward(
            request, canonical: canonical, route: route, headers: [:],
            eventLoop: MultiThreadedEventLoopGroup.singleton.next(), toHTTP2Client: false)
    }

    @Test func aSafeRequestIsRetriedOnANewConnectionAndABodyIsNot() async throws {
        let upstream = try await DroppingUpstream()
        let client = try UpstreamClient()
        let forwarder = UpstreamForwarder(client: client)
        let route = RouteSettings(id: "shipments", hosts: ["shipments.test"], pathPrefix: "/", upstream: upstream.url)

        // Each answer is read to its end, which gives its connection back to the pool.
        #expect(try await BodyCollector.read(send(forwarder, .get, "/a", route: route)) == "ok")
        try await client.waitForIdleConnections(1)
        // The pooled connection is reused and dropped: the GET goes again on a second connection.
        #expect(try await BodyCollector.read(send(forwarder, .get, "/b", route: route)) == "ok")
        try await client.waitForIdleConnections(1)
        // The second connection is reused and dropped in turn: a POST with a body is not sent twice.
        await #expect(throws: UpstreamFailure.self) { try await send(forwarder, .post, "/c", body: "xyz", route: route) }
        #expect(upstream.received.all == ["1 GET /a", "1 GET /b", "2 GET /b", "2 POST /c"])
        try await upstream.stop()
    }
}
