import HTTPSyntax
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import NIOTLS
import Synchronization

/// Counts open client connections against `ConnectionLimits.maxConnections`; lock-free, since
/// every accept passes through it.
public final class ConnectionGate: Sendable {
    private let open = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    public let limit: Int

    public init(limit: Int) { self.limit = limit }

    /// Connections currently open.
    public var openConnections: Int { open.load(ordering: .relaxed) }
    /// Connections closed at accept because the limit was reached, since start.
    public var refusedConnections: Int { refused.load(ordering: .relaxed) }

    func admit() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            refused.wrappingAdd(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() { open.wrappingSubtract(1, ordering: .relaxed) }
}

/// One client connection of the HTTPS listener: admitted by the `ConnectionGate`, TLS with a
/// handshake deadline, then by ALPN either HTTP/2 or HTTP/1.1 (which may upgrade to WebSocket).
///
/// This is Hummingbird's TLS/HTTP2 upgrade channel with two additions it cannot express: the
/// connection limit and handshake deadline before TLS, and the WebSocket upgrade on HTTP/1.1.
struct GatewayChannel: ServerChildChannel {
    typealias Negotiated = NIONegotiatedHTTPVersion<HTTP1WebSocketUpgradeChannel.Value, HTTP2Channel.Value>

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    struct ConnectionRefused: Error {}

    let sslContext: NIOSSLContext
    let verification: TLSChannelConfiguration.CustomVerificationCallback?
    let http1: HTTP1WebSocketUpgradeChannel
    let http2: HTTP2Channel
    let limits: ConnectionLimits
    let gate: ConnectionGate
    let connections: ConnectionFacts

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard gate.admit() else {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ConnectionRefused())
        }
        let gate = self.gate
        channel.closeFuture.whenComplete { _ in gate.release() }
        do {
            try channel.pipeline.syncOperations.addHandler(
                NIOSSLServerHandler(context: sslContext, customVerificationCallback: verification, configuration: .init()))
            let http1 = self.http1, http2 = self.http2, connections = self.connections
            let negotiation = NIOTypedApplicationProtocolNegotiationHandler<Negotiated> { result in
                // The handshake is complete: its facts are read once, before any request.
                connections.register(channel, http2: result == .negotiated("h2"))
                switch result {
                case .negotiated("h2"):
                    return http2.setup(channel: channel, logger: logger).map { .http2($0) }
                case .negotiated("http/1.1"), .fallback:
                    let idleTimeout = Self.timeAmount(limits.idleTimeout)
                    return http1.setup(channel: channel, logger: logger).flatMapThrowing { connection in
                        let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                        try channel.pipeline.syncOperations.addHandler(HTTP1HeadGuard(timeout: idleTimeout), name: HTTP1HeadGuard.name,
                                                                       position: .after(decoder))
                        return .http1_1(connection)
                    }
                case .negotiated:
                    return channel.close().flatMap { channel.eventLoop.makeFailedFuture(NIOHTTP2Errors.invalidALPNToken()) }
                }
            }
            try channel.pipeline.syncOperations.addHandler(negotiation)
            let deadline = channel.eventLoop.scheduleTask(in: Self.timeAmount(limits.handshakeTimeout)) { channel.close(promise: nil) }
            negotiation.protocolNegotiationResult.whenComplete { _ in deadline.cancel() }
            return channel.eventLoop.makeSucceededFuture(Value(negotiated: negotiation.protocolNegotiationResult, channel: channel))
        } catch {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case let .http1_1(connection): await http1.handle(value: connection, logger: logger)
            case let .http2(connection): await http2.handle(value: connection, logger: logger)
            }
        } catch {
            logger.debug("connection ended before a protocol was negotiated", metadata: ["error": "\(error)"])
        }
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}

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
