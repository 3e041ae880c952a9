import Synchronization

/// Counts open client connections against `ConnectionLimits.maxConnections`; lock-free, since
/// every accept passes through it.
public final class ConnectionGate: Sendable {
    private let open = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    public let limit: Int

    public init(limit: Int) { self.limit = limit }

    /// Connections currently open.
    public var openConnections: Int { open.load(ordering: .relaxed) }
    /// Connections closed at accept because the limit was reached, since start.
    public var refusedConnections: Int { refused.load(ordering: .relaxed) }

    func admit() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            refused.wrappingAdd(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() { open.wrappingSubtract(1, ordering: .relaxed) }
}
