import Foundation
import HTTPSyntax

/// The one host that serves sign-in, the second factor, sign-out, the admin console and every
/// later identity page (`gateway.sign_in_host`). It is never an upstream route's host, so no
/// upstream application shares an origin with the console or the sign-in forms; route hosts
/// get their sessions from it by single sign-on.
public struct SignInHost: Sendable, Equatable {
    static let callbackPage = "sso/callback"

    /// Canonical host name (lower case, no port).
    public let host: String
    /// The port browsers reach the gateway on, for the absolute URLs of redirects between hosts;
    /// nil: the port of the request being answered (every host is served on the same one).
    public let port: Int?

    /// `host` must already be canonical: lower case, letters, digits, hyphens and dots.
    public init(host: String, port: Int? = nil) throws(SignInHostError) {
        guard Self.isCanonicalHost(host) else { throw .notAHostName(host) }
        if let port, !(1...65535).contains(port) { throw .invalidPort(port) }
        self.host = host
        self.port = port
    }

    /// `https://host[:port]` of a host the gateway serves, for a request that arrived on `requestPort`.
    func origin(of host: String, requestPort: UInt16?) -> String {
        let port = self.port ?? requestPort.map(Int.init) ?? 443
        return port == 443 ? "https://\(host)" : "https://\(host):\(port)"
    }

    /// Where a browser without a session on `routeHost` starts single sign-on, to come back to
    /// `next` (a path already checked by ``RedirectTarget``).
    func signOnURL(for routeHost: String, next: String, requestPort: UInt16?) -> String {
        origin(of: host, requestPort: requestPort) + SignInPages.prefix + "sso?host=" + Self.escaped(routeHost) + "&next="
            + Self.escaped(next)
    }

    /// The route host's callback that redeems `code` and continues to `next`.
    func callbackURL(on routeHost: String, code: String, next: String, requestPort: UInt16?) -> String {
        origin(of: routeHost, requestPort: requestPort) + SignInPages.prefix + Self.callbackPage + "?code=" + Self.escaped(code)
            + "&next=" + Self.escaped(next)
    }

    /// Query-component escaping: only RFC 3986 unreserved ASCII characters stay as they are.
    static func escaped(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// A host exactly as the canonicalizer would write it: what `host=` of the single sign-on
    /// endpoint must be, so nothing about it is left for a browser to interpret.
    static func isCanonicalHost(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.last != ASCII.dot,
            let parsed = try? bytes.withUnsafeBufferPointer({ (bytes) throws(RequestRejection) in try HostSyntax.parseHost(bytes) })
        else { return false }
        return parsed == text && !text.hasPrefix("[")
    }
}

public enum SignInHostError: Error, CustomStringConvertible, Equatable {
    case notAHostName(String)
    case invalidPort(Int)

    public var description: String {
        switch self {
        case let .notAHostName(text): "'\(text)' is not a lower-case host name (letters, digits, hyphens and dots)"
        case let .invalidPort(port): "port \(port) is not between 1 and 65535"
        }
    }
}
