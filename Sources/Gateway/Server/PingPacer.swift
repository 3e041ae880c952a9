import NIOCore
import NIOHTTP2

/// Lets HTTP/2 clients ping at a reasonable pace while their streams carry data. Hummingbird's
/// connection manager (2.28) allows one PING per 30 s, open streams or not, and closes the
/// connection with ENHANCE_YOUR_CALM at the third early one; gRPC clients (grpc-core's
/// bandwidth-delay probing) ping each time a burst of data arrives, so a streamed download to
/// grpcio died after a few MiB. grpc-core's own server does not count pings while it sends
/// data; this handler does the equivalent by pace: PINGs within `perSecond` (a token bucket
/// holding `burst`) are taken here, already acknowledged by NIOHTTP2; faster ones go on to the
/// manager, whose strikes still close a flooding connection.
///
/// It sits right after `NIOHTTP2Handler` on each HTTP/2 connection.
final class PingPacer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private let perSecond: Double
    private let burst: Double
    private var tokens: Double
    private var refilled = NIODeadline.now()

    init(perSecond: Double = 10, burst: Double = 20) {
        self.perSecond = perSecond
        self.burst = burst
        tokens = burst
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .ping(_, ack: false) = frame.payload {
            let now = NIODeadline.now()
            tokens = min(burst, tokens + Double((now - refilled).nanoseconds) / 1e9 * perSecond)
            refilled = now
            if tokens >= 1 {
                tokens -= 1
                return
            }
        }
        context.fireChannelRead(data)
    }
}
