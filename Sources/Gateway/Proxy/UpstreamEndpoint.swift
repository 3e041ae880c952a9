import Foundation
import NIOCore

/// Where a route's requests go, parsed once from its upstream URL when the route is built.
public struct UpstreamEndpoint: Sendable, Hashable {
    public let secure: Bool
    /// Host name or IP literal, without IPv6 brackets.
    public let host: String
    public let port: Int
    /// The upstream URL's path, still percent-encoded, without a trailing `/`; the canonical
    /// request target is appended to it.
    public let basePath: String
    /// The `Host` field sent upstream: the upstream's own authority, never the client's.
    public let authority: String

    /// nil for anything but an `http://` or `https://` URL with a host.
    public init?(_ url: URL) {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            var host = url.host(percentEncoded: false), !host.isEmpty
        else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        secure = scheme == "https"
        self.host = host
        let defaultPort = secure ? 443 : 80
        port = url.port ?? defaultPort
        var path = url.path(percentEncoded: true)
        while path.hasSuffix("/") { path.removeLast() }
        basePath = path
        let bracketed = host.contains(":") ? "[\(host)]" : host
        authority = port == defaultPort ? bracketed : "\(bracketed):\(port)"
    }

    /// The server name to send (SNI) and check the certificate against; nil for an IP literal,
    /// whose certificate is checked against the connected address instead.
    var serverName: String? {
        (try? SocketAddress(ipAddress: host, port: port)) == nil ? host : nil
    }
}
