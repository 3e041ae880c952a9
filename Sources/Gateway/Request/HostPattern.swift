import HTTPSyntax

/// The host part of a route: an exact host (`app.corp.com`) or a wildcard (`*.corp.com`).
///
/// A wildcard stands for exactly one label: `*.corp.com` matches `app.corp.com` but neither
/// `corp.com` nor `a.b.corp.com`, so adding a deeper subdomain never silently widens a route.
/// Patterns are canonicalized by the same rule as request hosts (lower case, one trailing dot
/// removed, punycode kept); a port is not part of a pattern.
public struct HostPattern: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// Matches this canonical host only.
        case exact(String)
        /// Matches any host that is one label, a `.`, then this parent domain.
        case wildcard(parent: String)
    }

    public let kind: Kind

    public init(_ text: String) throws(RouteTableError) {
        let isWildcard = text.hasPrefix("*.")
        let name = Array((isWildcard ? text.dropFirst(2) : text[...]).utf8)
        let host: String
        do throws(RequestRejection) {
            host = try name.withUnsafeBufferPointer { (bytes) throws(RequestRejection) in try HostSyntax.parseHost(bytes) }
        } catch {
            throw .invalidHostPattern(text, reason: error.description)
        }
        guard isWildcard else {
            kind = .exact(host)
            return
        }
        guard !host.hasPrefix("[") else {
            throw .invalidHostPattern(text, reason: "a wildcard needs a domain name after '*.'")
        }
        kind = .wildcard(parent: host)
    }

    /// Whether this pattern covers a canonical host.
    public func matches(_ host: String) -> Bool {
        switch kind {
        case let .exact(name): return host == name
        case let .wildcard(parent):
            guard let dot = host.firstIndex(of: "."), dot != host.startIndex else { return false }
            return host[host.index(after: dot)...] == parent
        }
    }

    public var description: String {
        switch kind {
        case let .exact(host): host
        case let .wildcard(parent): "*." + parent
        }
    }
}
