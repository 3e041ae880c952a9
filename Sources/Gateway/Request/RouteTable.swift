import HTTPSyntax

/// One configured route: which hosts and which path prefix it serves, and what the gateway
/// needs to serve it (`Payload`: upstreams, auth requirements, timeouts, ...).
public struct Route<Payload: Sendable>: Sendable {
    /// Names the route in policies (`Route::"<id>"`), assertions (`aud`) and the audit log.
    public let id: String
    public let hosts: [HostPattern]
    /// Canonical path prefix: starts with `/`, no trailing `/` (except the root `/` itself),
    /// no empty, `.` or `..` segments, no `%`, `;`, `?`, `#`, `\`, whitespace or controls.
    public let pathPrefix: String
    public let payload: Payload

    public init(id: String, hosts: [HostPattern], pathPrefix: String, payload: Payload) {
        self.id = id
        self.hosts = hosts
        self.pathPrefix = pathPrefix
        self.payload = payload
    }
}

/// Why a route table was not accepted. A table is validated whole, so a bad reload leaves the
/// previous table in place.
public enum RouteTableError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyRouteID
    case duplicateRouteID(String)
    case routeWithoutHosts(routeID: String)
    case invalidHostPattern(String, reason: String)
    case invalidPathPrefix(routeID: String, prefix: String, reason: String)
    /// Two routes claim the same host pattern and path prefix, so neither would be more specific.
    case duplicateHostAndPrefix(host: String, pathPrefix: String, firstRouteID: String, secondRouteID: String)

    public var description: String {
        switch self {
        case .emptyRouteID:
            "a route has an empty id"
        case let .duplicateRouteID(id):
            "route id '\(id)' is used more than once"
        case let .routeWithoutHosts(id):
            "route '\(id)' has no hosts"
        case let .invalidHostPattern(pattern, reason):
            "host pattern \(quotedForLog(pattern, limit: 256)) is invalid: \(reason)"
        case let .invalidPathPrefix(id, prefix, reason):
            "route '\(id)': path prefix \(quotedForLog(prefix, limit: 256)) is invalid: \(reason)"
        case let .duplicateHostAndPrefix(host, prefix, first, second):
            "routes '\(first)' and '\(second)' both claim host '\(host)' with path prefix '\(prefix)'"
        }
    }
}

/// Chooses the route for a canonical host and path.
///
/// The most specific route wins: among routes whose host pattern and path prefix both match,
/// an exact host beats a wildcard host, then the longest path prefix wins. Prefixes match on
/// segment boundaries: `/api` matches `/api`, `/api/` and `/api/x`, not `/apix` (canonical
/// paths hold no `;`, so a path parameter cannot move a request out from under its route).
/// Matching is case-sensitive, like the canonical path.
///
/// Lookup costs two dictionary probes (exact host, then the wildcard parent domain) and a
/// scan of that host's prefixes, longest first; it allocates nothing.
public struct RouteTable<Payload: Sendable>: Sendable {
    public let routes: [Route<Payload>]
    private let exactHosts: [Substring: [PrefixEntry]]
    private let wildcardParents: [Substring: [PrefixEntry]]

    private struct PrefixEntry: Sendable {
        let prefix: String
        let routeIndex: Int
    }

    public init(_ routes: [Route<Payload>]) throws(RouteTableError) {
        var routeIDs = Set<String>()
        var claims: [HostPattern: [String: String]] = [:]
        var exactHosts: [Substring: [PrefixEntry]] = [:]
        var wildcardParents: [Substring: [PrefixEntry]] = [:]
        for (index, route) in routes.enumerated() {
            guard !route.id.isEmpty else { throw .emptyRouteID }
            guard routeIDs.insert(route.id).inserted else { throw .duplicateRouteID(route.id) }
            guard !route.hosts.isEmpty else { throw .routeWithoutHosts(routeID: route.id) }
            if let reason = Self.pathPrefixProblem(route.pathPrefix) {
                throw .invalidPathPrefix(routeID: route.id, prefix: route.pathPrefix, reason: reason)
            }
            let entry = PrefixEntry(prefix: route.pathPrefix, routeIndex: index)
            for host in route.hosts {
                if let firstRouteID = claims[host, default: [:]].updateValue(route.id, forKey: route.pathPrefix) {
                    throw .duplicateHostAndPrefix(
                        host: host.description, pathPrefix: route.pathPrefix, firstRouteID: firstRouteID, secondRouteID: route.id
                    )
                }
                switch host.kind {
                case let .exact(name): exactHosts[Substring(name), default: []].append(entry)
                case let .wildcard(parent): wildcardParents[Substring(parent), default: []].append(entry)
                }
            }
        }
        let longestFirst = { (entries: [PrefixEntry]) in entries.sorted { $0.prefix.utf8.count > $1.prefix.utf8.count } }
        self.routes = routes
        self.exactHosts = exactHosts.mapValues(longestFirst)
        self.wildcardParents = wildcardParents.mapValues(longestFirst)
    }

    /// The route for a canonical request.
    public func match(_ request: CanonicalRequest) -> Route<Payload>? {
        match(host: request.host, path: request.path)
    }

    /// The route for a canonical host (lower case, no port) and canonical path, or nil.
    public func match(host: String, path: String) -> Route<Payload>? {
        if let entries = exactHosts[host[...]], let route = longestPrefixMatch(entries, path: path) {
            return route
        }
        guard let entries = wildcardEntries(host) else { return nil }
        return longestPrefixMatch(entries, path: path)
    }

    /// Whether some route serves this canonical host, on any path.
    public func serves(host: String) -> Bool {
        exactHosts[host[...]] != nil || wildcardEntries(host) != nil
    }

    /// The routes of the wildcard `*.<parent>` that covers `host`, if any.
    private func wildcardEntries(_ host: String) -> [PrefixEntry]? {
        guard let dot = host.utf8.firstIndex(of: ASCII.dot), dot != host.startIndex else { return nil }
        return wildcardParents[host[host.utf8.index(after: dot)...]]
    }

    private func longestPrefixMatch(_ entries: [PrefixEntry], path: String) -> Route<Payload>? {
        for entry in entries where Self.path(path, isUnder: entry.prefix) {
            return routes[entry.routeIndex]
        }
        return nil
    }

    private static func path(_ path: String, isUnder prefix: String) -> Bool {
        guard path.utf8.starts(with: prefix.utf8) else { return false }
        if prefix.utf8.count == 1 || path.utf8.count == prefix.utf8.count { return true }
        let next = path.utf8[path.utf8.index(path.utf8.startIndex, offsetBy: prefix.utf8.count)]
        return next == ASCII.slash
    }

    /// Why a path prefix is not canonical, or nil when it is.
    private static func pathPrefixProblem(_ prefix: String) -> String? {
        guard prefix.hasPrefix("/") else { return "it must start with '/'" }
        guard prefix != "/" else { return nil }
        guard !prefix.hasSuffix("/") else {
            return "it must not end with '/' (a prefix already covers the paths below it)"
        }
        for scalar in prefix.unicodeScalars {
            if scalar.value <= 0x20 || scalar.value == 0x7F { return "it contains whitespace or a control character" }
            if "%;?#\\".unicodeScalars.contains(scalar) {
                return "it contains '\(scalar)'; write prefixes decoded, without parameters, query or fragment"
            }
        }
        for segment in prefix.utf8.split(separator: ASCII.slash, omittingEmptySubsequences: false).dropFirst() {
            if segment.isEmpty { return "it contains '//'" }
            if segment.elementsEqual(".".utf8) || segment.elementsEqual("..".utf8) { return "it contains a '.' or '..' segment" }
        }
        return nil
    }
}
