import Synchronization

/// Keeps an open stream (a WebSocket, or a response still streaming such as a gRPC call) under
/// the rules of a new request: every `interval` its opening request is admitted again
/// (``AccessRecheck``), and once that would be refused, or the stream outlives the route's
/// `max_stream_lifetime` or the call's `grpc-timeout`, the gateway closes it. When it ends,
/// however it ends, one access record says how long it lasted, the bytes each way, and why it
/// closed; the metrics count the same.
final class StreamWatch: Sendable {
    /// How often access is decided again: a revoked stream closes within about this long.
    static let interval: Duration = .seconds(1)

    let kind: StreamSummary.Kind
    private let recheck: AccessRecheck
    private let responder: GatewayResponder
    /// The record of the request that opened the stream.
    private let opening: AccessRecord
    private let opened: ContinuousClock.Instant
    /// When the stream must end at the latest, and what that end is called.
    private let deadline: ContinuousClock.Instant
    private let deadlineClosure: StreamClosure
    let bytesUp: ByteMeter
    /// The gateway's own reason to close, once it has one, with the record of a refusal.
    private let closedByGateway = Mutex<(StreamClosure, AccessRecord?)?>(nil)

    /// `opened`: when the stream's request arrived (a call's timeout counts from there).
    init(kind: StreamSummary.Kind, origin: StreamOrigin, bytesUp: ByteMeter = ByteMeter(), opened: ContinuousClock.Instant = .now) {
        self.kind = kind
        recheck = origin.recheck
        responder = origin.recheck.responder
        opening = origin.opening
        self.bytesUp = bytesUp
        self.opened = opened
        if let callTimeout = origin.callTimeout, callTimeout < origin.lifetime {
            (deadline, deadlineClosure) = (opened + callTimeout, .deadlineExceeded)
        } else {
            (deadline, deadlineClosure) = (opened + origin.lifetime, .lifetimeReached(origin.lifetime))
        }
    }

    /// The request id of the record that opened the stream.
    var openingRequestID: String { opening.requestID }

    /// The gateway's reason to close, if it closed the stream.
    var closure: StreamClosure? { closedByGateway.withLock { $0?.0 } }

    /// Watches in a task of its own, closing `connection` (the upstream exchange) when the
    /// stream must close; cancel the task when the stream ended by itself.
    func start(closing connection: UpstreamConnection) -> Task<Void, Never> {
        Task { await watch { connection.abandon() } }
    }

    /// Runs until the stream must close (then calls `close` once) or the task is cancelled
    /// (the stream ended by itself).
    func watch(close: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            if now >= deadline {
                closedByGateway.withLock { $0 = $0 ?? (deadlineClosure, nil) }
                await close()
                return
            }
            do {
                try await Task.sleep(until: min(now + Self.interval, deadline), clock: .continuous)
            } catch {
                return
            }
            if ContinuousClock.now < deadline, let (refusal, record) = recheck.refusal() {
                closedByGateway.withLock { $0 = $0 ?? (.revoked(refusal), record) }
                await close()
                return
            }
        }
    }

    /// Records the stream's end and why (`closure`: the watch's own, or how it ended by
    /// itself); `grpcStatus` is the status a gRPC call ended with. Every WebSocket and gRPC
    /// call gets a closing record; any other streamed response only when the gateway closed it
    /// or the upstream failed part-way (its access record already says the rest).
    func finish(_ closure: StreamClosure, bytesDown: Int, grpcStatus: Int? = nil, status: Int) async {
        let worthRecording: Bool =
            switch closure {
            case .ended, .clientGone: kind == .webSocket || opening.grpc != nil
            case .revoked, .lifetimeReached, .deadlineExceeded, .upstreamFailed: true
            }
        guard worthRecording else { return }
        var refusal: AccessRecord?
        if case .revoked = closure { refusal = closedByGateway.withLock { $0?.1 } }
        var record = refusal ?? AccessRecord(requestID: GatewayResponder.newRequestID(), clientAddress: opening.clientAddress)
        if refusal == nil {
            record.outcome = opening.outcome
            record.policies = opening.policies
            record.policyVersion = opening.policyVersion
        }
        record.method = opening.method
        record.target = opening.target
        record.route = opening.route
        record.principal = opening.principal
        record.authMethod = opening.authMethod
        record.grpc = opening.grpc
        record.grpcStatus = grpcStatus ?? closure.grpcStatus?.code
        let duration = ContinuousClock.now - opened
        let summary = StreamSummary(
            kind: kind, opened: opening.requestID, duration: duration, bytesUp: bytesUp.bytes, bytesDown: bytesDown, closure: closure)
        record.stream = summary
        if case .ended = closure {} else { record.reason = "open \(kind.name) \(opening.requestID) closed: \(closure.description)" }
        responder.metrics.recordStream(summary, route: opening.route ?? "-")
        if let grpc = opening.grpc, let code = record.grpcStatus {
            responder.metrics.recordGRPCCall(route: opening.route ?? "-", method: grpc, status: code)
        }
        _ = await responder.finish(&record, status: status, started: opened, countsAsRequest: false)
    }
}
