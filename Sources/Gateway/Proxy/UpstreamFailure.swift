/// Why an upstream exchange failed; mapped to 502 or 504 with the request id, never a trace.
public enum UpstreamFailure: Error, Sendable {
    case unreachable(String)
    case timedOut
    /// The upstream already has `limits.max_upstream_connections` open connections, all busy.
    case saturated
}
