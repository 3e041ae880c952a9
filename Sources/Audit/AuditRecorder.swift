/// How the request path hands events to the audit trail: never blocking, never touching the database.
public protocol AuditRecorder: Sendable {
    /// Queues the event. `false` means it was not accepted (the queue is full): under
    /// `fail_closed` the caller must not serve the request it describes.
    @discardableResult
    func record(_ event: AuditEvent) -> Bool

    /// Whether new traffic may be served. Under `fail_closed` this turns false while neither
    /// the database nor the local spool can take more events, and the gateway answers 503.
    var isAcceptingTraffic: Bool { get }

    /// Records the event of a request about to be answered, and says whether the answer may go
    /// out. With `durability: before_response` it returns once the event is stored (database or
    /// spool); it is false when the event could not be recorded and the overflow policy says
    /// an unrecorded request must not be answered (`fail_closed`).
    func recordBeforeAnswering(_ event: AuditEvent) async -> Bool
}

extension AuditRecorder {
    public func recordBeforeAnswering(_ event: AuditEvent) async -> Bool {
        record(event)
    }
}

/// When an answered request's event is safe from a crash of the process.
public enum AuditDurability: String, Sendable, CaseIterable {
    /// The answer goes out once the event is queued; the writer stores the queue every flush
    /// interval, so a crash (SIGKILL, power loss) loses the events of the last interval. A
    /// chain that ends without its writer's stop record shows `audit verify` such a loss.
    case afterResponse = "after_response"
    /// Each answer waits until its event is stored in PostgreSQL or fsynced to the spool. Events
    /// arriving together are stored together (one write per batch), so the cost is latency,
    /// not one write per request.
    case beforeResponse = "before_response"
}

/// What happens when the queue and the spool are both full.
public enum AuditOverflowPolicy: String, Sendable, CaseIterable {
    /// Refuse new requests (503) rather than serve unaudited traffic. The default.
    case failClosed = "fail_closed"
    /// Keep serving; count and log every dropped event.
    case dropWithAlarm = "drop_with_alarm"
}
