import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import NIOHTTPTypes
import NIOHTTPTypesHTTP2
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

    /// On an HTTP/2 stream the request is ended with RST_STREAM NO_ERROR after the complete
    /// answer (RFC 9113 §8.1), which gRPC clients read as the end of the call, not as CANCELLED;
    /// a request that ended while the answer streamed (a bidirectional call) is not reset.
    @Test func anHTTP2RequestStillSendingIsEndedWithoutError() throws {
        for requestEndsMeanwhile in [false, true] {
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandlers([HTTP2FramePayloadToHTTPServerCodec(), UnreadBodyCloser(http2: true)])
            let head = HPACKHeaders([(":method", "POST"), (":scheme", "https"), (":authority", "grpc.localhost"), (":path", "/a.B/C")])
            try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: head)))
            try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
            if requestEndsMeanwhile {
                try channel.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
            }
            try channel.writeOutbound(HTTPResponsePart.end([HTTPField.Name("grpc-status")!: "0"]))
            var frames: [HTTP2Frame.FramePayload] = []
            while let frame = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) { frames.append(frame) }
            let resets = frames.compactMap { frame -> NIOHTTP2.HTTP2ErrorCode? in
                if case let .rstStream(code) = frame { code } else { nil }
            }
            #expect(resets == (requestEndsMeanwhile ? [] : [NIOHTTP2.HTTP2ErrorCode.noError]), "\(frames)")
        }
    }
}
