import Cedar

/// The action side of the request model: each HTTP method is an `Action`, a member of
/// `Action::"read"` or `Action::"write"`.
public enum ActionEntities {
    /// The methods a policy can name, by group.
    public static let groups = ["read": ["GET", "HEAD", "OPTIONS"], "write": ["POST", "PUT", "PATCH", "DELETE"]]

    /// The HTTP methods the request model knows.
    public static let methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]

    /// `Action::"GET"` … with their groups, for every entity store.
    public static let all: [Entity] = {
        var entities = groups.keys.sorted().map { Entity(uid: EntityUID("Action", $0)) }
        for (group, methods) in groups.sorted(by: { $0.key < $1.key }) {
            entities += methods.map { Entity(uid: EntityUID("Action", $0), parents: [EntityUID("Action", group)]) }
        }
        return entities
    }()

    /// Signing in to a tool through the OpenID provider (`Client::"<id>"` as the resource).
    public static let openIDSignIn = "oidc.sign_in"

    /// `Action::"<method>"`.
    public static func uid(_ method: String) -> EntityUID { EntityUID("Action", method) }
}
