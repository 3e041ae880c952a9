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
            eventLoop: MultiThreadedEventLoopGroup.singleton.next(), toHTTP2Client: false
        ).response
    }

    @Test func aSafeRequestIsRetriedOnANewConnectionAndABodyIsNot() async throws {
        // The first request of each connection is answered; a second one closes the connection:
        // a kept-alive connection the upstream dropped just as the gateway reused it.
        let upstream = try await ScriptedUpstream { _, index in index == 0 ? .ok : nil }
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
