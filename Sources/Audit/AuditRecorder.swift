/// How the request path hands events to the audit trail: never blocking, never touching the database.
public protocol AuditRecorder: Sendable {
    /// Queues the event. `false` means it was not accepted (the queue is full): under
    /// `fail_closed` the caller must not serve the request it describes.
    @discardableResult
    func record(_ event: AuditEvent) -> Bool

    /// Whether new traffic may be served. Under `fail_closed` this turns false while neither
    /// the database nor the local spool can take more events, and the gateway answers 503.
    var isAcceptingTraffic: Bool { get }
}

/// What happens when the queue and the spool are both full.
public enum AuditOverflowPolicy: String, Sendable, CaseIterable {
    /// Refuse new requests (503) rather than serve unaudited traffic. The default.
    case failClosed = "fail_closed"
    /// Keep serving; count and log every dropped event.
    case dropWithAlarm = "drop_with_alarm"
}
