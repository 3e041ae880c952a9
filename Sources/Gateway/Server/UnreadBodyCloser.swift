import HTTPTypes
import NIOCore
import NIOHTTP2
import NIOHTTPTypes
import NIOHTTPTypesHTTP2

/// Ends the exchange when a response starts before its request's body has all been received: a
/// refused request (401, 403, 413…) or an upstream that answered early. Without it, the server
/// would go on reading the body it no longer wants, at whatever pace the client chooses, one
/// byte every 25 s keeping the connection and its slot for as long as it likes.
///
/// - HTTP/1.1: the response head gets `Connection: close` (RFC 9112 §9.6) and the connection is
///   closed once the response is written (the head is where the choice must be announced, so
///   a body that ends while the response is still streaming does not change it). Requests
///   whose body had arrived keep the connection.
/// - HTTP/2 (one handler per stream): if the request body has still not ended when the
///   response has been written, the stream is reset with `NO_ERROR` (RFC 9113 §8.1: a server
///   may end a request early, without error, after a complete response); the connection and
///   its other streams go on. `NO_ERROR` matters to gRPC clients: they keep the status of the
///   trailers they read, where `CANCEL` would turn it into CANCELLED. A stream whose request
///   ended while the response streamed (a bidirectional call) is not reset.
///
/// It sits between the HTTP codec and Hummingbird on each HTTP/1.1 connection and HTTP/2
/// stream, and counts request ends against final responses, so pipelined requests are matched
/// in order.
final class UnreadBodyCloser: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let http2: Bool
    /// Requests whose `.end` has been read, and final response heads written, on this channel.
    private var requestsEnded = 0
    private var responsesStarted = 0
    /// The response being written answers a request whose body has not all arrived.
    private var closesAfterResponse = false

    init(http2: Bool) { self.http2 = http2 }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { requestsEnded += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case var .head(response) where response.status.kind != .informational:
            responsesStarted += 1
            closesAfterResponse = requestsEnded < responsesStarted
            guard closesAfterResponse, !http2 else { return context.write(data, promise: promise) }
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end where closesAfterResponse:
            closesAfterResponse = false
            if http2, requestsEnded >= responsesStarted { return context.write(data, promise: promise) }
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.cascade(to: promise)
            context.writeAndFlush(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { [http2] _ in
                if http2, let codec = try? context.pipeline.syncOperations.context(handlerType: HTTP2FramePayloadToHTTPServerCodec.self) {
                    codec.writeAndFlush(NIOAny(HTTP2Frame.FramePayload.rstStream(.noError)), promise: nil)
                } else {
                    context.close(promise: nil)
                }
            }
        default:
            context.write(data, promise: promise)
        }
    }
}
