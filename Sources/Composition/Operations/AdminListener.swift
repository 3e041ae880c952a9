import Foundation
import Hummingbird
import Logging
import NIOCore

/// The operations listener: liveness and readiness for orchestrators and Prometheus metrics,
/// bound to its own address so that nothing routed through the gateway can reach it. `facts`
/// adds fields to `/readyz` (the policy version this process enforces).
public enum AdminListener {
    public static func application(
        listen: ListenAddress,
        checks: [any ReadinessCheck],
        facts: @escaping @Sendable () -> [String: String] = { [:] },
        metrics: @escaping @Sendable () -> [UInt8] = { [] },
        logger: Logger,
        onStarted: @escaping @Sendable (SocketAddress?) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in
            jsonResponse(.ok, ["status": "alive"])
        }
        router.get("/readyz") { _, _ in
            let report = await ReadinessReport.gather(checks)
            let details = report.problems.mapValues { $0 ?? "ok" }
            var body: [String: any Sendable] = facts()
            body["status"] = report.isReady ? "ready" : "unavailable"
            body["checks"] = details
            return jsonResponse(report.isReady ? .ok : .serviceUnavailable, body)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics())))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: { channel in await onStarted(channel.localAddress) },
            logger: logger
        )
    }

    private static func jsonResponse(_ status: HTTPResponse.Status, _ body: [String: any Sendable]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
