/// How an open stream (a WebSocket, or a response still streaming, such as a gRPC call) ended:
/// the close reason its audit record and metrics give.
enum StreamClosure: Sendable {
    /// The upstream ended it, or either side closed a WebSocket.
    case ended
    /// The request that opened it would now be refused (session ended, account disabled,
    /// credential revoked, policy changed): the gateway closed it.
    case revoked(Refusal)
    /// It reached the route's `max_stream_lifetime`.
    case lifetimeReached(Duration)
    /// The call's `grpc-timeout` passed.
    case deadlineExceeded
    /// The client went away or stopped taking data.
    case clientGone
    /// The upstream failed before the stream ended.
    case upstreamFailed(String)

    /// The metric label and the audit record's `closed_by`.
    var label: String {
        switch self {
        case .ended: "ended"
        case .revoked: "revoked"
        case .lifetimeReached: "lifetime"
        case .deadlineExceeded: "deadline"
        case .clientGone: "client_gone"
        case .upstreamFailed: "upstream_failed"
        }
    }

    /// Closed by the gateway on its own account (not by either end).
    var byGateway: Bool {
        switch self {
        case .revoked, .lifetimeReached, .deadlineExceeded: true
        case .ended, .clientGone, .upstreamFailed: false
        }
    }

    /// What the audit record says.
    var description: String {
        switch self {
        case .ended: "ended"
        case let .revoked(refusal): "access ended: \(refusal.reason ?? refusal.message)"
        case let .lifetimeReached(lifetime): "reached the route's maximum stream lifetime (\(lifetime))"
        case .deadlineExceeded: "the call's grpc-timeout passed"
        case .clientGone: "the client went away"
        case let .upstreamFailed(reason): "upstream failed: \(reason)"
        }
    }

    /// The status a gRPC call closed by the gateway ends with (PROTOCOL-HTTP2.md status codes):
    /// 16 UNAUTHENTICATED or 7 PERMISSION_DENIED as the refusal says, 4 DEADLINE_EXCEEDED,
    /// 14 UNAVAILABLE. nil when the upstream's own trailers end the call.
    var grpcStatus: (code: Int, message: String)? {
        switch self {
        case .ended, .clientGone: nil
        case let .revoked(refusal): (GRPCRefusal.code(for: refusal.status), "access revoked: \(refusal.message)")
        case .lifetimeReached: (14, "the stream reached its maximum lifetime")
        case .deadlineExceeded: (4, "deadline exceeded")
        case .upstreamFailed: (14, "the upstream failed")
        }
    }
}
