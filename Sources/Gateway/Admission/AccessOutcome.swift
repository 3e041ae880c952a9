/// What the gateway concluded about one request, as the audit trail records it and the
/// `portcullis_gateway_requests_total` counter counts it.
enum AccessOutcome: Int, CaseIterable, Sendable {
    /// Admitted: forwarded, answered by an embedded application, or a sign-in page.
    case allow
    /// Refused by the route's settings or by policy, or without valid credentials.
    case deny
    /// Not decided: a malformed request, an outage, or a failure on the gateway's side.
    case error

    var label: String {
        switch self {
        case .allow: "allow"
        case .deny: "deny"
        case .error: "error"
        }
    }
}
