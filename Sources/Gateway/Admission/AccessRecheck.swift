import HTTPTypes

/// Decides an open stream's access again: the request that opened it (a WebSocket upgrade, a
/// gRPC call) is admitted as if it arrived now, with its credentials checked against the
/// current revocations and account state and Cedar against the policy set in force. Long-lived
/// connections get no standing grant: access ends for them when it would end for a new request.
struct AccessRecheck: Sendable {
    let responder: GatewayResponder
    let head: HTTPRequest
    let clientAddress: String
    let tls: TLSFacts

    /// nil while the request would still be admitted; else the refusal, with a record of the
    /// decision (outcome, reason, policies) under a new request id.
    func refusal() -> (Refusal, AccessRecord)? {
        var record = AccessRecord(requestID: GatewayResponder.newRequestID(), clientAddress: clientAddress)
        do throws(Refusal) {
            _ = try responder.admit(head, clientAddress: clientAddress, tls: tls, record: &record)
            return nil
        } catch {
            record.outcome = error.outcome
            record.reason = error.reason
            return (error, record)
        }
    }
}
