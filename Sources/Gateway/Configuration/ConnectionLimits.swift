/// Limits applied to every client connection before any request is seen.
public struct ConnectionLimits: Sendable {
    /// Open client connections; a connection beyond it is closed as soon as it is accepted.
    public var maxConnections = 10_000
    /// Time from accept to a finished TLS handshake.
    public var handshakeTimeout: Duration = .seconds(10)
    /// HTTP/1.1: time from accept, or from the end of the last response, to a complete request
    /// head. It bounds both an idle keep-alive connection and a head sent a byte at a time
    /// (slowloris). HTTP/2: time a connection may stay without open streams.
    public var idleTimeout: Duration = .seconds(30)
    /// Size of the request head's header fields, in bytes (431 or a reset beyond it).
    public var maxHeaderBytes = 32 * 1024
    /// Number of header fields in one request.
    public var maxHeaderCount = 100
    /// Largest WebSocket message relayed in either direction.
    public var maxWebSocketMessageBytes = 1 << 20
    /// Open connections to one upstream (host, port, TLS settings); a request that would need
    /// one more while all are busy is answered 503 at once instead of opening it.
    public var maxUpstreamConnections = 1024

    public init() {}
}
