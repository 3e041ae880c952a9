import NIOCore
import NIOTLS

/// Completes `negotiated` once the TLS handshake with an `h2` upstream agreed on HTTP/2 by
/// ALPN, and fails it (closing the connection) when the upstream chose nothing or something
/// else: the exchange fails with that reason instead of carrying on with a server that would
/// read HTTP/2 as a malformed HTTP/1.1 request.
final class HTTP2NegotiationCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    struct NotNegotiated: Error, CustomStringConvertible {
        let offered: String?
        var description: String { "the upstream did not agree to HTTP/2 by ALPN (it chose \(offered ?? "nothing"))" }
    }

    private let negotiated: EventLoopPromise<Void>

    init(negotiated: EventLoopPromise<Void>) {
        self.negotiated = negotiated
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case let TLSUserEvent.handshakeCompleted(negotiatedProtocol) = event {
            if negotiatedProtocol == "h2" {
                negotiated.succeed()
                context.pipeline.syncOperations.removeHandler(self, promise: nil)
            } else {
                negotiated.fail(NotNegotiated(offered: negotiatedProtocol))
                context.close(promise: nil)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        negotiated.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        negotiated.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}
