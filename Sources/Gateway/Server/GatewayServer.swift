import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL

/// The HTTPS listener: TLS 1.2+ with ALPN h2 and http/1.1 (with WebSocket upgrade), the server
/// certificate served from `ServerCredentials` on every handshake, client certificates requested
/// (not required) and verified by `ClientTrust` when a CA bundle is configured, and the
/// connection limits of `GatewaySettings.limits`.
public enum GatewayServer {
    struct Responder: HTTPResponder {
        let gateway: GatewayResponder

        /// Each request is answered in a child task of its connection's: the async frames of
        /// admission and forwarding are freed when it ends. Inline, the connection's long-lived
        /// task would keep its deepest request's frames (Swift's task allocator frees its slabs
        /// only with the task), about 50 KiB per idle keep-alive connection.
        func respond(to request: Request, context: GatewayRequestContext) async throws -> Response {
            await withTaskGroup(of: Response.self) { group in
                group.addTask { await gateway.respond(to: request, context: context) }
                return await group.next()!
            }
        }
    }

    public static func application(
        settings: GatewaySettings, responder: GatewayResponder, credentials: ServerCredentials, clientTrust: ClientTrust?,
        gate: ConnectionGate, logger: Logger, onStarted: @escaping @Sendable (SocketAddress?) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let (chain, key) = credentials.current
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        tls.applicationProtocols = NIOHTTP2SupportedALPNProtocols
        tls.sslContextCallback = { _, promise in
            let (chain, key) = credentials.current
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = chain.map { .certificate($0) }
            override.privateKey = .privateKey(key)
            promise.succeed(override)
        }
        var verification: TLSChannelConfiguration.CustomVerificationCallback?
        if let clientTrust {
            // Request a certificate without requiring one; a presented one must pass `ClientTrust`.
            tls.certificateVerification = .optionalVerification
            tls.trustRoots = .certificates(clientTrust.authorities.withLock { $0 })
            tls.sendCANameList = true
            verification = { chain, promise in promise.completeWithTask { await clientTrust.verify(chain) } }
        } else {
            tls.certificateVerification = .none
        }
        let sslContext = try NIOSSLContext(configuration: tls)
        let limits = settings.limits
        // Each HTTP/1.1 connection and each HTTP/2 stream ends an exchange whose body it stopped
        // reading (`UnreadBodyCloser`): the connection for HTTP/1.1, only the stream for HTTP/2.
        var http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [UnreadBodyCloser(http2: false), RequestTrailers()],
            idleTimeout: GatewayChannel.timeAmount(limits.idleTimeout))
        http1.httpDecoder = .init(
            maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes,
            maxHeaderFieldCount: limits.maxHeaderCount)
        var stream = http1
        stream.additionalChannelHandlers = { [UnreadBodyCloser(http2: true), RequestTrailers()] }
        let http2 = HTTP2ChannelConfiguration(idleTimeout: limits.idleTimeout, gracefulCloseTimeout: .seconds(5), streamConfiguration: stream)
        let verifier = verification
        let http1Configuration = http1
        let webSockets = WebSocketProxy(responder: responder, maxMessageBytes: limits.maxWebSocketMessageBytes, logger: logger)
        let server = HTTPServerBuilder { respond in
            GatewayChannel(
                sslContext: sslContext, verification: verifier,
                http1: HTTP1WebSocketUpgradeChannel(
                    responder: respond, configuration: .init(http1: http1Configuration, ws: .init(maxFrameSize: limits.maxWebSocketMessageBytes)),
                    shouldUpgrade: { head, channel, _ in await webSockets.shouldUpgrade(head, channel: channel) }),
                http2: HTTP2Channel(responder: respond, configuration: http2),
                limits: limits, gate: gate, connections: responder.connections)
        }
        return Application(
            responder: Responder(gateway: responder),
            server: server,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in await onStarted(channel.localAddress) },
            logger: logger)
    }
}
