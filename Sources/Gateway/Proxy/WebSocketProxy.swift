import Foundation
import HTTPTypes
import HummingbirdWebSocket
import HummingbirdWSClient
import Logging
import NIOCore

/// WebSocket through the gateway. The upgrade request passes exactly the checks of any other
/// request (`GatewayResponder.admit`: canonical path, route, authentication, Cedar), and only on
/// a route with `websocket: true`. The gateway then ends the client's WebSocket itself, opens
/// its own to the upstream carrying the same identity headers as a forwarded request (signed
/// assertion included), and relays messages both ways until either side closes.
///
/// Relaying messages rather than raw bytes keeps the gateway a protocol endpoint: frames are
/// validated, sizes are bounded by `ConnectionLimits.maxWebSocketMessageBytes`, and nothing the
/// client sends reaches the upstream as anything but a well-formed message. Subprotocols are
/// not negotiated through the gateway.
struct WebSocketProxy: Sendable {
    typealias Handler = WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>

    let responder: GatewayResponder
    let maxMessageBytes: Int
    let logger: Logger

    /// Upgrades only an admitted request to a WebSocket route. Anything else goes on to the
    /// HTTP responder, which runs the same checks, answers (401, 403, 400…) and records it.
    func shouldUpgrade(_ head: HTTPRequest, channel: any Channel) async -> ShouldUpgradeResult<Handler> {
        let started = ContinuousClock.now
        let clientAddress = channel.remoteAddress?.ipAddress ?? "unknown"
        var record = AccessRecord(requestID: GatewayResponder.newRequestID(), clientAddress: clientAddress)
        guard case let .forward(admitted) = await responder.admit(head, clientAddress: clientAddress, tls: { await TLSFacts.read(from: channel) },
                                                                  record: &record),
              admitted.route.allowsWebSocket else { return .dontUpgrade }
        responder.finish(&record, status: 101, started: started)
        responder.metrics.recordWebSocketUpgrade(route: admitted.route.id)
        let url = Self.upstreamURL(admitted.route.upstream, target: admitted.canonical.forwardedTarget)
        let headers = Self.upstreamHandshakeHeaders(admitted.headers)
        let requestID = record.requestID, maxMessageBytes = self.maxMessageBytes, logger = self.logger
        return .upgrade([GatewayHeaders.requestID: requestID]) { clientInbound, clientOutbound, _ in
            do {
                try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: maxMessageBytes, additionalHeaders: headers),
                                                  logger: logger) { upstreamInbound, upstreamOutbound, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await message in clientInbound.messages(maxSize: maxMessageBytes) {
                                try await upstreamOutbound.write(Self.frame(message))
                            }
                        }
                        group.addTask {
                            for try await message in upstreamInbound.messages(maxSize: maxMessageBytes) {
                                try await clientOutbound.write(Self.frame(message))
                            }
                        }
                        // Either side ending ends the relay; returning closes both sockets.
                        try await group.next()
                        group.cancelAll()
                    }
                }
            } catch {
                logger.info("websocket relay ended with an error", metadata: ["request_id": "\(requestID)", "error": "\(error)"])
                try? await clientOutbound.close(.unexpectedServerError, reason: "upstream unavailable")
            }
        }
    }

    static func frame(_ message: WebSocketMessage) -> WebSocketOutboundWriter.OutboundFrame {
        switch message {
        case let .text(text): .text(text)
        case let .binary(bytes): .binary(bytes)
        }
    }

    /// The route's upstream with `ws`/`wss` for `http`/`https`, and the canonical target appended.
    static func upstreamURL(_ base: URL, target: String) -> String {
        let url = UpstreamForwarder.url(base, target: target)
        if url.hasPrefix("https://") { return "wss://" + url.dropFirst("https://".count) }
        return "ws://" + url.dropFirst("http://".count)
    }

    /// The forwarded headers minus the handshake fields the upstream connection sets itself
    /// (HTTP/1.1 `Host` never appears here: the request's authority is not a header field).
    static func upstreamHandshakeHeaders(_ fields: HTTPFields) -> HTTPFields {
        var headers = fields
        for name in [HTTPField.Name.upgrade, .connection, .secWebSocketKey, .secWebSocketVersion, .secWebSocketExtensions,
                     .secWebSocketProtocol, .contentLength] {
            headers[name] = nil
        }
        return headers
    }
}
