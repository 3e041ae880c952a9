import CoreMetrics
import Synchronization

/// The gateway's per-request instruments, through an injected `MetricsFactory` (no global
/// bootstrap), so tests and several gateways in one process keep separate counts.
///
/// Instruments are made once per route id and reused: recording a request costs one short lock
/// and a few counter updates, with no allocation after a route's first request.
public final class GatewayMetrics: Sendable {
    /// Why the upstream gave no answer, as counted in `portcullis_gateway_upstream_errors_total`.
    enum UpstreamFailure: Int, CaseIterable {
        case unreachable, timeout, saturated

        var label: String {
            switch self {
            case .unreachable: "unreachable"
            case .timeout: "timeout"
            case .saturated: "saturated"
            }
        }
    }

    private struct RouteInstruments: Sendable {
        let requests: [Counter]
        let upstreamErrors: [Counter]
        let duration: Timer
        let webSockets: Counter
    }

    private let factory: any MetricsFactory
    private let instruments = Mutex<[String: RouteInstruments]>([:])

    /// - Parameter factory: where instruments come from (a Prometheus factory in `serve`).
    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
    }

    func record(route: String?, outcome: AccessOutcome, duration: Duration) {
        let route = self.route(route ?? "-")
        route.requests[outcome.rawValue].increment()
        route.duration.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    func recordUpstreamFailure(route: String, _ failure: UpstreamFailure) {
        self.route(route).upstreamErrors[failure.rawValue].increment()
    }

    func recordWebSocketUpgrade(route: String) {
        self.route(route).webSockets.increment()
    }

    private func route(_ id: String) -> RouteInstruments {
        if let existing = instruments.withLock({ $0[id] }) { return existing }
        let made = RouteInstruments(
            requests: AccessOutcome.allCases.map {
                Counter(label: "portcullis_gateway_requests_total", dimensions: [("route", id), ("outcome", $0.label)], factory: factory)
            },
            upstreamErrors: UpstreamFailure.allCases.map {
                Counter(label: "portcullis_gateway_upstream_errors_total", dimensions: [("route", id), ("kind", $0.label)], factory: factory)
            },
            duration: Timer(label: "portcullis_gateway_request_duration_seconds", dimensions: [("route", id)], factory: factory),
            webSockets: Counter(label: "portcullis_gateway_websocket_upgrades_total", dimensions: [("route", id)], factory: factory))
        return instruments.withLock { table in
            if let raced = table[id] { return raced }
            table[id] = made
            return made
        }
    }
}
