import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWSClient
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// WebSocket through the gateway. The upgrade request passes exactly the checks of any other
/// request (`GatewayResponder.admit`: canonical path, route, authentication, Cedar), and only on
/// a route with `websocket: true`. The gateway then ends the client's WebSocket itself, opens
/// its own to the upstream carrying the same identity headers as a forwarded request (signed
/// assertion included), and relays messages both ways until either side closes.
///
/// An open WebSocket stays subject to the same checks (``StreamWatch``): every second the
/// upgrade request is admitted again (credentials against the current revocations and account
/// state, Cedar against the policy set in force); once it would be refused, or the WebSocket
/// reaches the route's `max_stream_lifetime`, the client is sent close code 1008 and both
/// sockets end. Its closing is audited with its duration, bytes each way and reason.
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

    /// Upgrades only an admitted request to a WebSocket route. A refused one is recorded and
    /// answered here (401, 403, 400…) before the connection closes: the WebSocket channel would
    /// otherwise answer every refusal with a bare 400.
    func shouldUpgrade(_ head: HTTPRequest, channel: any Channel) async -> ShouldUpgradeResult<Handler> {
        let started = ContinuousClock.now
        let clientAddress = channel.remoteAddress?.ipAddress ?? "unknown"
        var record = AccessRecord(requestID: GatewayResponder.newRequestID(), clientAddress: clientAddress)
        let refusal: Refusal
        do throws(Refusal) {
            let tls = responder.connections.facts(for: channel)
            switch try responder.admit(head, clientAddress: clientAddress, tls: tls, record: &record) {
            case let .forward(admitted) where admitted.route.allowsWebSocket:
                guard CrossOrigin.allowsWebSocket(head, route: admitted.route) else {
                    throw .webSocketFromOtherOrigin(head.headerFields[.origin] ?? "")
                }
                // After the 101 the connection carries WebSocket frames, which the HTTP/1.1 head
                // guard cannot read: it leaves before the answer is written.
                guard await responder.finish(&record, status: 101, started: started) else {
                    // Unrecorded, and the overflow policy forbids serving it.
                    await Self.answer(
                        Refusal.auditUnavailable(retryAfterSeconds: 1).response(fields: head.headerFields, requestID: record.requestID),
                        requestID: record.requestID, on: channel)
                    return .dontUpgrade
                }
                do {
                    try await channel.pipeline.removeHandler(name: HTTP1HeadGuard.name).get()
                    let origin = StreamOrigin(
                        recheck: AccessRecheck(responder: responder, head: head, clientAddress: clientAddress, tls: tls),
                        opening: record, lifetime: admitted.route.maxStreamLifetime, callTimeout: nil)
                    return upgrade(admitted, requestID: record.requestID, watch: StreamWatch(kind: .webSocket, origin: origin))
                } catch {
                    logger.error("websocket upgrade refused: the HTTP/1.1 head guard could not be removed", metadata: ["error": "\(error)"])
                    refusal = .upgradeFailed
                }
            case .forward, .signIn:
                refusal = .upgradeNotAllowed
            }
        } catch {
            refusal = error
        }
        let response = refusal.answer(recording: &record, fields: head.headerFields)
        _ = await responder.finish(&record, status: Int(response.status.code), started: started)
        await Self.answer(response, requestID: record.requestID, on: channel)
        return .dontUpgrade
    }

    private func upgrade(_ admitted: Admitted, requestID: String, watch: StreamWatch) -> ShouldUpgradeResult<Handler> {
        responder.metrics.recordWebSocketUpgrade(route: admitted.route.id)
        let url = Self.upstreamURL(admitted.route.upstream, target: admitted.canonical.forwardedTarget)
        let headers = Self.upstreamHandshakeHeaders(admitted.headers)
        let maxMessageBytes = self.maxMessageBytes
        let logger = self.logger
        let tls = admitted.route.upstreamTLS?.configuration
        return .upgrade([GatewayHeaders.requestID: requestID]) { clientInbound, clientOutbound, _ in
            let bytesDown = ByteMeter()
            var ending = StreamClosure.ended
            do {
                try await WebSocketClient.connect(
                    url: url, configuration: .init(maxFrameSize: maxMessageBytes, additionalHeaders: headers),
                    tlsConfiguration: tls, logger: logger
                ) { upstreamInbound, upstreamOutbound, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await message in clientInbound.messages(maxSize: maxMessageBytes) {
                                watch.bytesUp.add(Self.size(message))
                                try await upstreamOutbound.write(Self.frame(message))
                            }
                        }
                        group.addTask {
                            for try await message in upstreamInbound.messages(maxSize: maxMessageBytes) {
                                bytesDown.add(Self.size(message))
                                try await clientOutbound.write(Self.frame(message))
                            }
                        }
                        group.addTask {
                            await watch.watch {
                                let reason = if case .revoked = watch.closure { "access revoked" } else { "maximum lifetime reached" }
                                try? await clientOutbound.close(.policyViolation, reason: reason)
                            }
                        }
                        // Either side ending, or access ending, ends the relay; returning closes both sockets.
                        try await group.next()
                        group.cancelAll()
                    }
                }
            } catch {
                logger.info("websocket relay ended with an error", metadata: ["request_id": "\(requestID)", "error": "\(error)"])
                ending = .upstreamFailed("\(error)")
                try? await clientOutbound.close(.unexpectedServerError, reason: "upstream unavailable")
            }
            await watch.finish(watch.closure ?? ending, bytesDown: bytesDown.bytes, status: 101)
        }
    }

    /// Writes a refusal straight to the HTTP/1.1 connection and closes it. Status and headers
    /// are the gateway's answer; the body is a short JSON (an upgrade client reads the status).
    static func answer(_ response: Response, requestID: String, on channel: any Channel) async {
        let body = ByteBuffer(string: #"{"error":"upgrade_refused","status":\#(response.status.code),"request_id":"\#(requestID)"}"#)
        var headers = HTTPHeaders()
        for field in response.headers where field.name != .contentType && field.name != .contentLength {
            headers.add(name: field.name.rawName, value: field.value)
        }
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: response.status.code), headers: headers)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
        try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        try? await channel.close()
    }

    static func size(_ message: WebSocketMessage) -> Int {
        switch message {
        case let .text(text): text.utf8.count
        case let .binary(bytes): bytes.readableBytes
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
        // The WebSocket client names its own Origin (`ws://<upstream>`); a second one, the page's,
        // would make the upstream refuse the handshake. The gateway checked the page's origin.
        for name in [
            HTTPField.Name.upgrade, .connection, .secWebSocketKey, .secWebSocketVersion, .secWebSocketExtensions,
            .secWebSocketProtocol, .contentLength, .origin,
        ] {
            headers[name] = nil
        }
        return headers
    }
}
