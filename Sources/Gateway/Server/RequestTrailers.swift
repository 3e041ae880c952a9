import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Keeps the trailer fields that ended a request body, which Hummingbird's request body (bytes
/// only) drops, so the forwarder can send them on with the body's end. One per HTTP/1.1
/// connection and per HTTP/2 stream, beside ``UnreadBodyCloser``; touched only on its event loop.
final class RequestTrailers: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var latest: HTTPFields?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: latest = nil
        case let .end(trailers): latest = trailers
        case .body: break
        }
        context.fireChannelRead(data)
    }

    /// The trailers of the request whose body `channel` last finished reading; nil when it had
    /// none (or the channel has no such handler).
    static func last(on channel: any Channel) async -> HTTPFields? {
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: RequestTrailers.self).latest
        }.get()
    }
}
