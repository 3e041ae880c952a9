import HTTPSyntax
import HTTPTypes
import Hummingbird

extension GatewayResponder {
    /// The CORS of a request from another web origin to a route that lists origins; nil for any
    /// other request (without an `Origin` field, or to a route without a policy: the common
    /// case costs one field lookup, and one more lock only where some route lists origins).
    func crossOrigin(_ head: HTTPRequest) -> (CrossOrigin, route: String, path: String)? {
        guard let origin = head.headerFields[.origin], let table = routes.tableListingOrigins,
            let canonical = try? RequestCanonicalizer.canonicalize(head), let route = table.match(canonical)?.payload,
            let policy = route.crossOrigin
        else { return nil }
        return (CrossOrigin(policy: policy, origin: origin), route.id, canonical.path)
    }

    /// A preflight the gateway answers itself, audited: allowed, or refused with the reason.
    func answerPreflight(
        _ request: Request, _ crossOrigin: CrossOrigin, route: String, path: String, context: GatewayRequestContext
    ) async -> Response {
        let started = ContinuousClock.now
        var record = AccessRecord(requestID: Self.newRequestID(), clientAddress: context.clientAddress)
        (record.method, record.target, record.route) = (request.method.rawValue, path, route)
        let (response, refusal) = crossOrigin.preflight(request.headers)
        record.outcome = refusal == nil ? .allow : .deny
        record.reason = "CORS preflight from \(crossOrigin.origin)" + (refusal.map { " refused: \($0)" } ?? "")
        guard await finish(&record, status: Int(response.status.code), started: started) else {
            return Refusal.auditUnavailable(retryAfterSeconds: 1).response(fields: request.headers, requestID: record.requestID)
        }
        var answered = response
        answered.headers[GatewayHeaders.requestID] = record.requestID
        return answered
    }
}
