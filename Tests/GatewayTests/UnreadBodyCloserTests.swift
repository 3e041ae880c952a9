import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import Gateway

/// A response that starts before its request's body has arrived ends the exchange (issue 18,
/// item 11); one that follows the whole request keeps the connection.
@Suite struct UnreadBodyCloserTests {
    static let post = HTTPRequest(
        method: .post, scheme: "https", authority: "shipments.localhost", path: "/v1/shipments",
        headerFields: [.contentLength: "100000"])
    static let get = HTTPRequest(method: .get, scheme: "https", authority: "shipments.localhost", path: "/v1/shipments")

    /// Writes a response and returns its head as it left the handler.
    func respond(_ channel: EmbeddedChannel, _ status: HTTPResponse.Status) throws -> HTTPResponse? {
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: status)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        guard case let .head(head) = try channel.readOutbound(as: HTTPResponsePart.self),
            case .end = try channel.readOutbound(as: HTTPResponsePart.self)
        else { return nil }
        return head
    }

    @Test func anHTTP1AnswerBeforeTheBodyEndsClosesTheConnection() throws {
        let channel = EmbeddedChannel(handler: UnreadBodyCloser(http2: false))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        try channel.writeInbound(HTTPRequestPart.head(Self.post))
        try channel.writeInbound(HTTPRequestPart.body(ByteBuffer(string: "x")))
        let head = try respond(channel, .unauthorized)
        #expect(head?.headerFields[.connection] == "close")
        #expect(!channel.isActive)
    }

    @Test func answersAfterWholeRequestsKeepTheConnectionAlsoWhenPipelined() throws {
        let channel = EmbeddedChannel(handler: UnreadBodyCloser(http2: false))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        for request in [Self.get, Self.post] {
            try channel.writeInbound(HTTPRequestPart.head(request))
            try channel.writeInbound(HTTPRequestPart.end(nil))
        }
        for status in [HTTPResponse.Status.unauthorized, .ok] {
            let head = try #require(try respond(channel, status))
            #expect(head.headerFields[.connection] == nil)
        }
        #expect(channel.isActive)
        // A third request, still sending its body when answered.
        try channel.writeInbound(HTTPRequestPart.head(Self.post))
        #expect(try respond(channel, .forbidden)?.headerFields[.connection] == "close")
        #expect(!channel.isActive)
    }

    @Test func anHTTP2StreamIsClosedWithoutAConnectionField() throws {
        let channel = EmbeddedChannel(handler: UnreadBodyCloser(http2: true))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        try channel.writeInbound(HTTPRequestPart.head(Self.post))
        let head = try #require(try respond(channel, .unauthorized))
        #expect(head.headerFields[.connection] == nil)
        #expect(!channel.isActive)
    }
}
