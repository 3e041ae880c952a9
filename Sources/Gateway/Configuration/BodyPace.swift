/// How fast a route's request bodies must arrive once the gateway reads them (forwarding, or
/// its own pages). A body that never ends, or trickles, would otherwise hold the connection, a
/// request slot and an upstream connection for as long as the client likes: the 30 s idle
/// timer only bounds the pause between two reads, and one byte every 25 s never trips it.
public struct BodyPace: Sendable, Equatable {
    /// The whole body must have been read within this time from the start of reading.
    public var timeout: Duration
    /// From `gracePeriod` on, the body must have averaged at least this many bytes per second
    /// since the start of reading (0: no minimum).
    public var minimumBytesPerSecond: Int

    /// Time before the average rate is first checked, so a body may start slowly (a client
    /// waiting for `100 Continue`, a slow first write) without being cut off.
    public static let gracePeriod: Duration = .seconds(5)

    /// Two minutes for the whole body, at least 1 KiB/s on average after the first 5 s.
    public static let standard = BodyPace(timeout: .seconds(120), minimumBytesPerSecond: 1024)

    public init(timeout: Duration, minimumBytesPerSecond: Int) {
        self.timeout = timeout
        self.minimumBytesPerSecond = minimumBytesPerSecond
    }

    /// Why a body read for `elapsed` with `received` bytes so far breaks this pace, or nil.
    func violation(received: Int, elapsed: Duration) -> BodyPaceViolation? {
        if elapsed > timeout { return .deadlineExceeded(timeout) }
        guard elapsed >= Self.gracePeriod else { return nil }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Int(Double(received) / seconds)
        return rate < minimumBytesPerSecond ? .tooSlow(bytesPerSecond: rate, minimum: minimumBytesPerSecond) : nil
    }
}

/// Why a request body was cut off: it goes into the audit record of the request.
public enum BodyPaceViolation: Error, Equatable, Sendable, CustomStringConvertible {
    case deadlineExceeded(Duration)
    case tooSlow(bytesPerSecond: Int, minimum: Int)

    public var description: String {
        switch self {
        case let .deadlineExceeded(timeout): "the request body did not arrive within \(timeout)"
        case let .tooSlow(rate, minimum): "the request body arrived at \(rate) bytes/s, below the route's minimum of \(minimum) bytes/s"
        }
    }
}
