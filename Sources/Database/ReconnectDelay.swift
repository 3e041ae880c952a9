/// The wait before a LISTEN connection is opened again: 100 ms doubling to 5 s while attempts
/// keep failing, back to 100 ms once one has succeeded. Without the reset, every later outage
/// would start at 5 s and cost seconds of refused requests after PostgreSQL is back.
struct ReconnectDelay {
    static let first = Duration.milliseconds(100)
    static let longest = Duration.seconds(5)

    private(set) var current = Self.first

    /// The delay to wait now; the next one is twice as long, up to ``longest``.
    mutating func advance() -> Duration {
        defer { current = min(current * 2, Self.longest) }
        return current
    }

    /// After a connection that was synchronised: the next outage starts with the shortest wait.
    mutating func reset() { current = Self.first }
}
