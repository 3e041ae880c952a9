import AccessModel
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
    /// gRPC call counters by route, method and status; methods counted per route are capped
    /// (`maxMethodsPerRoute`, then `other`), so callers cannot grow the label set at will.
    private let grpcCalls = Mutex<(counters: [String: Counter], methods: [String: Set<String>])>(([:], [:]))
    static let maxMethodsPerRoute = 256

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

    /// `portcullis_gateway_grpc_calls_total{route, service, method, code}`: every gRPC call the
    /// gateway saw end, with the status it ended with.
    func recordGRPCCall(route: String, method: GRPCMethod, status: Int) {
        let counter = grpcCalls.withLock { state -> Counter in
            var name = method.path
            if !state.methods[route, default: []].contains(name) {
                if state.methods[route, default: []].count < Self.maxMethodsPerRoute {
                    state.methods[route, default: []].insert(name)
                } else {
                    name = "other"
                }
            }
            let key = "\(route) \(name) \(status)"
            if let counter = state.counters[key] { return counter }
            let (service, methodName) = name == "other" ? ("other", "other") : (method.service, method.method)
            let counter = Counter(
                label: "portcullis_gateway_grpc_calls_total",
                dimensions: [("route", route), ("service", service), ("method", methodName), ("code", String(status))], factory: factory)
            state.counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// `portcullis_gateway_streams_closed_total{route, kind, closed_by}`, the streams' duration
    /// (`portcullis_gateway_stream_duration_seconds`) and bytes each way
    /// (`portcullis_gateway_stream_bytes_total{direction}`). Once per stream, not per request.
    func recordStream(_ summary: StreamSummary, route: String) {
        let dimensions = [("route", route), ("kind", summary.kind.rawValue)]
        Counter(label: "portcullis_gateway_streams_closed_total", dimensions: dimensions + [("closed_by", summary.closure.label)], factory: factory)
            .increment()
        Timer(label: "portcullis_gateway_stream_duration_seconds", dimensions: dimensions, factory: factory).recordNanoseconds(
            summary.duration.components.seconds * 1_000_000_000 + summary.duration.components.attoseconds / 1_000_000_000)
        Counter(label: "portcullis_gateway_stream_bytes_total", dimensions: dimensions + [("direction", "up")], factory: factory)
            .increment(by: summary.bytesUp)
        Counter(label: "portcullis_gateway_stream_bytes_total", dimensions: dimensions + [("direction", "down")], factory: factory)
            .increment(by: summary.bytesDown)
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
