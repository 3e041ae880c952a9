import Foundation
import Logging
import PostgresNIO

/// A search over the trail, newest first, with keyset pagination: pass the last result's
/// `cursor` as `after` to get the next page without OFFSET scans.
public struct AuditQuery: Sendable, Equatable {
    public struct Cursor: Sendable, Equatable, CustomStringConvertible {
        public var timeMicros: Int64
        public var id: UUID

        public init(timeMicros: Int64, id: UUID) {
            self.timeMicros = timeMicros
            self.id = id
        }

        /// `<micros>.<uuid>`: opaque to clients, stable across pages.
        public init?(_ text: String) {
            let parts = text.split(separator: ".", maxSplits: 1)
            guard parts.count == 2, let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else { return nil }
            self.init(timeMicros: micros, id: id)
        }

        public var description: String { "\(timeMicros).\(id.uuidString)" }
    }

    /// A Cedar uid (`User::"dana"`), or a plain login or service name, which matches the user,
    /// service account or operator of that name.
    public var principal: String?
    public var route: String?
    public var outcome: String?
    public var kind: AuditEvent.Kind?
    public var requestID: String?
    public var since: Date?
    public var until: Date?
    public var after: Cursor?
    public var limit: Int
    /// Oldest first instead of newest first (exports read forwards).
    public var ascending: Bool

    public init(
        principal: String? = nil, route: String? = nil, outcome: String? = nil, kind: AuditEvent.Kind? = nil,
        requestID: String? = nil, since: Date? = nil, until: Date? = nil, after: Cursor? = nil,
        limit: Int = 100, ascending: Bool = false
    ) {
        self.principal = principal
        self.route = route
        self.outcome = outcome
        self.kind = kind
        self.requestID = requestID
        self.since = since
        self.until = until
        self.after = after
        self.limit = limit
        self.ascending = ascending
    }

    /// The uids a `principal` filter stands for: itself when it is one, else every principal
    /// type a plain name can belong to.
    static func principalUIDs(_ principal: String) -> [String] {
        if principal.contains("::") || principal.contains("\"") || principal.contains("\\") { return [principal] }
        return ["User", "Service", "Operator"].map { "\($0)::\"\(principal)\"" }
    }

    func sql() throws -> PostgresQuery {
        var binds = PostgresBindings()
        var conditions: [String] = []
        func condition(_ template: (String) -> String, _ value: some PostgresEncodable & Sendable) throws {
            try binds.append(value)
            conditions.append(template("$\(binds.count)"))
        }
        let epochPlus = { (parameter: String) in "timestamptz 'epoch' + \(parameter)::bigint * interval '1 microsecond'" }
        if let principal { try condition({ "principal = ANY(\($0))" }, Self.principalUIDs(principal)) }
        if let route { try condition({ "route = \($0)" }, route) }
        if let outcome { try condition({ "outcome = \($0)" }, outcome) }
        if let kind { try condition({ "kind = \($0)" }, kind.rawValue) }
        if let requestID { try condition({ "request_id = \($0)" }, requestID) }
        if let since { try condition({ "occurred_at >= \(epochPlus($0))" }, CivilTime.micros(since)) }
        if let until { try condition({ "occurred_at < \(epochPlus($0))" }, CivilTime.micros(until)) }
        if let after {
            binds.append(after.timeMicros)
            let time = epochPlus("$\(binds.count)")
            binds.append(after.id)
            conditions.append("(occurred_at, id) \(ascending ? ">" : "<") (\(time), $\(binds.count))")
        }
        binds.append(Int64(max(1, min(limit, 10_000))))
        let order = ascending ? "ASC" : "DESC"
        let sql = """
            SELECT \(StoredColumns.list) FROM audit_events
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY occurred_at \(order), id \(order) LIMIT $\(binds.count)
            """
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }
}

/// The columns every read selects, in the order `decodeChained` expects.
enum StoredColumns {
    static let list = """
        id, (extract(epoch from occurred_at) * 1000000)::bigint, kind, request_id, principal, auth_method, action, route,
        target, client_address, outcome, policies, policy_version, upstream_status, duration_us, details,
        writer_id, seq, prev_hash, hash
        """

    static func decode(_ row: PostgresRow) throws -> ChainedEvent {
        let c = try row.decode(
            (
                UUID, Int64, String, String?, String?, String?, String, String?, String?, String?, String, [String], String?,
                Int32?, Int64?, String?, UUID, Int64, ByteBuffer, ByteBuffer
            ).self)
        guard let kind = AuditEvent.Kind(rawValue: c.2) else { throw AuditError.corruptRow("unknown kind '\(c.2)'") }
        var event = AuditEvent(
            id: c.0, kind: kind, requestID: c.3, principal: c.4, authMethod: c.5, action: c.6, route: c.7, target: c.8,
            clientAddress: c.9, outcome: c.10, policies: c.11, policyVersion: c.12, upstreamStatus: c.13.map(Int.init),
            durationMicros: c.14, details: c.15)
        event.timeMicros = c.1
        return ChainedEvent(event: event, writerID: c.16, sequence: c.17, previousHash: Array(buffer: c.18), hash: Array(buffer: c.19))
    }
}
