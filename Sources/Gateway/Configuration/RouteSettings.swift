import AccessModel
import Foundation
import HTTPSyntax

/// One route: which requests it takes, where they go, and how callers must authenticate.
/// Every field is checked when the table is built; a table with one bad route is refused whole.
public struct RouteSettings: Sendable {
    public var id: String
    public var hosts: [String]
    /// Canonical path prefix, matched on segment boundaries.
    public var pathPrefix: String
    /// `http://` or `https://` base URL of the upstream; the request path is appended to its path.
    public var upstream: URL { didSet { endpoint = UpstreamEndpoint(upstream) } }
    /// `upstream` taken apart once, for the forwarder; nil when it is not a usable URL.
    public private(set) var endpoint: UpstreamEndpoint?
    /// Anonymous callers may reach a public route (policy still decides); on any other route
    /// they are asked to sign in before policy is consulted.
    public var isPublic: Bool
    /// Which credentials this route accepts.
    public var authMethods: Set<AuthMethod>
    /// Refuse requests that did not arrive on a connection with a verified client certificate.
    public var requiresClientCertificate: Bool
    /// Time allowed for the upstream's response head.
    public var timeout: Duration
    public var allowsWebSocket: Bool
    /// Tags of the Cedar resource `Route::"<id>"` (`resource.getTag("team")`).
    public var labels: [String: String]
    public var maxBodyBytes: Int
    /// Deadline and minimum rate of request bodies the gateway reads for this route.
    public var bodyPace: BodyPace = .standard
    /// Forward the caller's `Authorization` header. Off by default, so a bearer token valid on
    /// every route never reaches upstreams; on only for upstreams that verify the token
    /// themselves (the identity service's own API).
    public var passesAuthorization: Bool = false
    /// TLS towards an `https://` upstream; nil: system trust store, no client certificate.
    public var upstreamTLS: UpstreamTLS?
    /// How requests travel to the upstream: HTTP/1.1, or HTTP/2 (which gRPC needs).
    public var upstreamProtocol: UpstreamProtocol = .http1
    /// The longest an allowed WebSocket or streamed response may stay open, however often its
    /// access is confirmed; then it is closed (WebSocket 1008, gRPC `UNAVAILABLE`) and audited.
    public var maxStreamLifetime: Duration = .seconds(24 * 3600)
    /// Whether each request gets its own signed assertion or a principal's session reuses one.
    public var assertionBinding: AssertionBinding = .perRequest
    /// Which other web origins may call the route from a browser; nil: CORS is the upstream's.
    public var crossOrigin: CrossOriginPolicy?

    public init(
        id: String, hosts: [String], pathPrefix: String, upstream: URL, isPublic: Bool = false,
        authMethods: Set<AuthMethod> = Set(AuthMethod.allCases), requiresClientCertificate: Bool = false,
        timeout: Duration = .seconds(30), allowsWebSocket: Bool = false, labels: [String: String] = [:],
        maxBodyBytes: Int = 10 << 20
    ) {
        self.id = id
        self.hosts = hosts
        self.pathPrefix = pathPrefix
        self.upstream = upstream
        endpoint = UpstreamEndpoint(upstream)
        self.isPublic = isPublic
        self.authMethods = authMethods
        self.requiresClientCertificate = requiresClientCertificate
        self.timeout = timeout
        self.allowsWebSocket = allowsWebSocket
        self.labels = labels
        self.maxBodyBytes = maxBodyBytes
    }
}

extension RouteSettings {
    /// The routing table for these routes; any invalid route or ambiguity refuses the whole set.
    public static func table(_ routes: [RouteSettings]) throws(RouteTableError) -> RouteTable<RouteSettings> {
        var entries: [Route<RouteSettings>] = []
        for route in routes {
            var hosts: [HostPattern] = []
            for host in route.hosts { hosts.append(try HostPattern(host)) }
            entries.append(Route(id: route.id, hosts: hosts, pathPrefix: route.pathPrefix, payload: route))
        }
        return try RouteTable(entries)
    }
}
