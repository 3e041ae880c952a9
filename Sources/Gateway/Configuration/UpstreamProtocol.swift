/// The protocol a route speaks to its upstream (`upstream_protocol` in the configuration).
public enum UpstreamProtocol: String, Sendable, CaseIterable {
    /// HTTP/1.1 over pooled keep-alive connections (`http://` or `https://`).
    case http1
    /// HTTP/2 over TLS, negotiated by ALPN (`https://` upstreams).
    case h2
    /// HTTP/2 over plain TCP with prior knowledge (`http://` upstreams on a trusted network).
    case h2c

    var isHTTP2: Bool { self != .http1 }
}
