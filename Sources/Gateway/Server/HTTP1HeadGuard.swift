import HTTPSyntax
import NIOCore
import NIOHTTP1

/// Stands between SwiftNIO's HTTP/1.1 parser and everything that reads its request heads, for
/// as long as the connection speaks HTTP/1.1 (a WebSocket upgrade removes it: see
/// ``WebSocketProxy``).
///
/// - The first request head must be complete within `timeout` of the TLS handshake: a head sent
///   a byte at a time (slowloris) or never closes the connection. Later requests are covered by
///   Hummingbird's idle timer, which counts from the end of each response.
/// - A parser error on the first request (conflicting framing, bad field syntax) is answered 400
///   and the connection closed: the WebSocket-upgrade stage holds the first request, so
///   Hummingbird's own 400 for parser errors only covers later ones.
/// - A request-target that is not origin-form goes on as ``HTTP1Target`` carries it, so the
///   canonicalizer sees it whole and refuses an absolute-form target for another host.
final class HTTP1HeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let name = "portcullis-http1-head-guard"

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var sawFirstHead = false

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !sawFirstHead, error is HTTPParserError else { return context.fireErrorCaught(error) }
        let head = HTTPResponseHead(version: .http1_1, status: .badRequest, headers: ["Connection": "close", "Content-Length": "0"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case var .head(head) = unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        if !sawFirstHead {
            sawFirstHead = true
            deadline?.cancel()
            deadline = nil
        }
        guard head.uri.utf8.first != UInt8(ascii: "/") else { return context.fireChannelRead(data) }
        head.uri = HTTP1Target.carried(head.uri)
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}
