import AccessModel
import Audit
import Foundation

/// What one request's audit record says, filled in as the request advances.
struct AccessRecord {
    let requestID: String
    let clientAddress: String
    var method = "-"
    var target: String?
    var route: String?
    var principal: String?
    var authMethod: String?
    var outcome = AccessOutcome.error
    var reason: String?
    var policies: [String] = []
    var policyVersion: String?
    /// Policies skipped because evaluating them raised an error, whatever the decision: a
    /// `forbid` that erred on an allowed request is exactly what an auditor must see.
    var policyErrors: [String] = []
    var durationMicros: Int64 = 0
    /// The gRPC method of a gRPC call, and the status it ended with once known.
    var grpc: GRPCMethod?
    var grpcStatus: Int?
    /// Set on the record of a stream's closing.
    var stream: StreamSummary?

    func event(status: Int) -> AuditEvent {
        AuditEvent(
            kind: .access, requestID: requestID, principal: principal, authMethod: authMethod, action: method, route: route,
            target: target, clientAddress: clientAddress, outcome: outcome.label, policies: policies, policyVersion: policyVersion,
            upstreamStatus: outcome == .allow ? status : nil, durationMicros: durationMicros, details: details)
    }

    /// `{"reason": …, "policy_errors": […], "grpc": {…}, "stream": {…}}` with what there is;
    /// nil when there is nothing.
    private var details: String? {
        guard reason != nil || !policyErrors.isEmpty || grpc != nil || stream != nil else { return nil }
        var fields: [String] = []
        if let reason { fields.append(#""reason":"# + Self.jsonString(reason)) }
        if !policyErrors.isEmpty { fields.append(#""policy_errors":["# + policyErrors.map(Self.jsonString).joined(separator: ",") + "]") }
        if let grpc {
            let status = grpcStatus.map { #","status":\#($0)"# } ?? ""
            fields.append(#""grpc":{"service":"# + Self.jsonString(grpc.service) + #","method":"# + Self.jsonString(grpc.method) + status + "}")
        }
        if let stream { fields.append(stream.json) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    private static func jsonString(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
