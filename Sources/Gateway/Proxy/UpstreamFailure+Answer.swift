import HTTPTypes
import Hummingbird

/// The answer to an admitted request whose upstream gave none: 503 when it is saturated, 504
/// when it timed out, 502 when it could not be reached; never the upstream's internals.
extension UpstreamFailure {
    func response(requestID: String) -> Response {
        switch self {
        case .saturated:
            GatewayAnswers.json(
                .serviceUnavailable, ["error": "upstream_busy", "message": "the upstream service has too many requests in progress"],
                requestID: requestID, headers: [.retryAfter: "1"])
        case .timedOut:
            GatewayAnswers.json(
                .gatewayTimeout, ["error": "upstream_timeout", "message": "the upstream service did not answer"], requestID: requestID)
        case .unreachable:
            GatewayAnswers.json(.badGateway, ["error": "bad_gateway", "message": "the upstream service did not answer"], requestID: requestID)
        }
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
