import Foundation
import Hummingbird
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOSSL

/// The HTTPS listener: TLS 1.2+ with ALPN h2 and http/1.1, the server certificate served from
/// `ServerCredentials` on every handshake, and client certificates requested (not required) and
/// verified by `ClientTrust` when a CA bundle is configured.
public enum GatewayServer {
    struct Responder: HTTPResponder {
        let gateway: GatewayResponder

        func respond(to request: Request, context: GatewayRequestContext) async throws -> Response {
            await gateway.respond(to: request, context: context)
        }
    }

    public static func application(
        settings: GatewaySettings, responder: GatewayResponder, credentials: ServerCredentials, clientTrust: ClientTrust?,
        logger: Logger, onStarted: @escaping @Sendable (SocketAddress?) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let (chain, key) = credentials.current
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        tls.sslContextCallback = { _, promise in
            let (chain, key) = credentials.current
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = chain.map { .certificate($0) }
            override.privateKey = .privateKey(key)
            promise.succeed(override)
        }
        let channel: HummingbirdHTTP2.TLSChannelConfiguration
        if let clientTrust {
            // Request a certificate without requiring one; a presented one must pass `ClientTrust`.
            tls.certificateVerification = .optionalVerification
            tls.trustRoots = .certificates(clientTrust.authorities.withLock { $0 })
            tls.sendCANameList = true
            channel = .init(tlsConfiguration: tls, customAsyncVerificationCallback: { chain in await clientTrust.verify(chain) })
        } else {
            tls.certificateVerification = .none
            channel = .init(tlsConfiguration: tls)
        }
        var http2 = HTTP2UpgradeChannel.Configuration()
        http2.idleTimeout = .seconds(60)
        http2.streamConfiguration = .init(idleTimeout: .seconds(60))
        return Application(
            responder: Responder(gateway: responder),
            server: try .http2Upgrade(tlsChannelConfiguration: channel, configuration: http2),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in await onStarted(channel.localAddress) },
            logger: logger)
    }
}
