import HTTPTypes
import Hummingbird

/// The answer to an admitted request whose upstream gave none: 503 when it is saturated, 504
/// when it timed out, 502 when it could not be reached; never the upstream's internals.
extension UpstreamFailure {
    func response(requestID: String) -> Response {
        switch self {
        case .saturated:
            GatewayAnswers.json(
                .serviceUnavailable, ["error": "upstream_busy", "message": message],
                requestID: requestID, headers: [.retryAfter: "1"])
        case .timedOut:
            GatewayAnswers.json(
                .gatewayTimeout, ["error": "upstream_timeout", "message": message], requestID: requestID)
        case .unreachable:
            GatewayAnswers.json(.badGateway, ["error": "bad_gateway", "message": message], requestID: requestID)
        }
    }

    /// What a client is told, in its answer's `message`.
    var message: String {
        switch self {
        case .saturated: "the upstream service has too many requests in progress"
        case .timedOut, .unreachable: "the upstream service did not answer"
        }
    }

    /// The status a gRPC call ends with: 8 RESOURCE_EXHAUSTED when saturated, else 14 UNAVAILABLE.
    var grpcCode: Int {
        if case .saturated = self { 8 } else { 14 }
    }

    var isTimeout: Bool {
        if case .timedOut = self { true } else { false }
    }

    /// How `portcullis_gateway_upstream_errors_total` counts it.
    var counted: GatewayMetrics.UpstreamFailure {
        switch self {
        case .saturated: .saturated
        case .timedOut: .timeout
        case .unreachable: .unreachable
        }
    }
}
