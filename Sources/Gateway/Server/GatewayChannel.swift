import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import NIOTLS

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
            let http1 = self.http1
            let http2 = self.http2
            let connections = self.connections
            let negotiation = NIOTypedApplicationProtocolNegotiationHandler<Negotiated> { result in
                // The handshake is complete: its facts are read once, before any request.
                connections.register(channel, http2: result == .negotiated("h2"))
                switch result {
                case .negotiated("h2"):
                    return http2.setup(channel: channel, logger: logger).flatMapThrowing { connection in
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(PingPacer(), position: .after(try sync.handler(type: NIOHTTP2Handler.self)))
                        return .http2(connection)
                    }
                case .negotiated("http/1.1"), .fallback:
                    let idleTimeout = Self.timeAmount(limits.idleTimeout)
                    return http1.setup(channel: channel, logger: logger).flatMapThrowing { connection in
                        let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
                        try channel.pipeline.syncOperations.addHandler(
                            HTTP1HeadGuard(timeout: idleTimeout), name: HTTP1HeadGuard.name,
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
