import Foundation
import PostgresNIO

/// One distinct kind of access request seen in the trail: the request shape `policy diff`
/// replays through two policy sets.
public struct AccessShape: Sendable, Equatable {
    /// The Cedar principal as recorded, e.g. `User::"alice"`.
    public var principal: String
    /// HTTP method.
    public var action: String
    public var route: String
    /// Canonical path.
    public var path: String
    public var authMethod: String
    /// How many access records had this shape, and the latest one's time and client address.
    public var count: Int
    public var lastSeen: Date
    public var clientAddress: String?
    /// The records were of gRPC calls (their details carry `grpc`).
    public var grpc: Bool

    public init(
        principal: String, action: String, route: String, path: String, authMethod: String, count: Int, lastSeen: Date,
        clientAddress: String?, grpc: Bool = false
    ) {
        self.principal = principal
        self.action = action
        self.route = route
        self.path = path
        self.authMethod = authMethod
        self.count = count
        self.lastSeen = lastSeen
        self.clientAddress = clientAddress
        self.grpc = grpc
    }
}

extension AccessShape {
    /// Whether an access record's details name a gRPC call (`"grpc":{…}`, a key only the gateway
    /// writes: quotes inside reasons are escaped).
    public static func recordsGRPCCall(_ details: String) -> Bool {
        details.contains(#""grpc":{"#)
    }
}

extension AuditStore {
    /// Distinct (principal, method, route, path, auth method) of access decisions at or after
    /// `since`, ordered by principal, route, path and method. Records without a route (no route
    /// matched) were never decided by a policy and are left out.
    public func accessShapes(since: Date) async throws -> [AccessShape] {
        let micros = CivilTime.micros(since)
        let rows = try await client.query(
            """
            SELECT principal, action, route, target, COALESCE(auth_method, 'none'), count(*)::bigint,
                   (extract(epoch from max(occurred_at)) * 1000000)::bigint,
                   (array_agg(client_address ORDER BY occurred_at DESC))[1], COALESCE(details LIKE '%"grpc":{%', false)
            FROM audit_events
            WHERE kind = 'access' AND occurred_at >= timestamptz 'epoch' + \(micros)::bigint * interval '1 microsecond'
              AND principal IS NOT NULL AND route IS NOT NULL AND target IS NOT NULL
            GROUP BY principal, action, route, target, COALESCE(auth_method, 'none'), COALESCE(details LIKE '%"grpc":{%', false)
            ORDER BY principal, route, target, action
            """, logger: logger)
        var shapes: [AccessShape] = []
        for try await (principal, action, route, path, method, count, last, address, grpc)
            in rows.decode((String, String, String, String, String, Int64, Int64, String?, Bool).self)
        {
            shapes.append(
                AccessShape(
                    principal: principal, action: action, route: route, path: path, authMethod: method, count: Int(count),
                    lastSeen: Date(timeIntervalSince1970: Double(last) / 1_000_000), clientAddress: address, grpc: grpc))
        }
        return shapes
    }
}
