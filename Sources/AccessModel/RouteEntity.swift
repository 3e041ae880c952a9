import Cedar

/// The resource side of the request model: `Route::"<id>"` with the route's labels as tags
/// (`resource.getTag("team")`).
public struct RouteEntity: Sendable {
    public let id: String
    public let labels: [String: String]

    public init(id: String, labels: [String: String] = [:]) {
        self.id = id
        self.labels = labels
    }

    public var uid: EntityUID { EntityUID("Route", id) }

    public var entity: Entity {
        Entity(uid: uid, tags: labels.reduce(into: [:]) { $0[CedarString($1.key)] = .string(CedarString($1.value)) })
    }
}
