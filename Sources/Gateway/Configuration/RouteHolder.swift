import Synchronization

/// The route table in force, swapped whole on reload like the policy set.
public final class RouteHolder: Sendable {
    private struct Entry {
        let table: RouteTable<RouteSettings>
        /// Whether a route lists web origins (``CrossOriginPolicy``).
        let listsOrigins: Bool

        init(_ table: RouteTable<RouteSettings>) {
            self.table = table
            listsOrigins = table.routes.contains { $0.payload.crossOrigin != nil }
        }
    }

    private let current: Mutex<Entry>

    public init(_ table: RouteTable<RouteSettings>) { current = Mutex(Entry(table)) }

    public var table: RouteTable<RouteSettings> { current.withLock { $0.table } }

    /// The table, when a route in it lists web origins; nil otherwise.
    var tableListingOrigins: RouteTable<RouteSettings>? { current.withLock { $0.listsOrigins ? $0.table : nil } }

    public func replace(with table: RouteTable<RouteSettings>) { current.withLock { $0 = Entry(table) } }
}
