import Synchronization

/// The route table in force, swapped whole on reload like the policy set.
public final class RouteHolder: Sendable {
    private let current: Mutex<RouteTable<RouteSettings>>

    public init(_ table: RouteTable<RouteSettings>) { current = Mutex(table) }

    public var table: RouteTable<RouteSettings> { current.withLock { $0 } }

    public func replace(with table: RouteTable<RouteSettings>) { current.withLock { $0 = table } }
}
