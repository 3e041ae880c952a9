import Cedar

/// The resource side of the request model: `Route::"<id>"` for a gateway request, or
/// `Client::"<id>"` for signing in to a tool through the OpenID provider; the labels are the
/// entity's tags (`resource.getTag("team")`).
public struct RouteEntity: Sendable {
    public let type: String
    public let id: String
    public let labels: [String: String]

    public init(id: String, labels: [String: String] = [:]) {
        self.init(type: "Route", id: id, labels: labels)
    }

    private init(type: String, id: String, labels: [String: String]) {
        self.type = type
        self.id = id
        self.labels = labels
    }

    /// `Client::"<id>"`: a tool that signs people in with Portcullis as its OpenID provider.
    public static func client(id: String, labels: [String: String] = [:]) -> RouteEntity {
        RouteEntity(type: "Client", id: id, labels: labels)
    }

    public var uid: EntityUID { EntityUID(type, id) }

    public var entity: Entity {
        Entity(uid: uid, tags: labels.reduce(into: [:]) { $0[CedarString($1.key)] = .string(CedarString($1.value)) })
    }
}
