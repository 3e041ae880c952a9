import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Portcullis's HTTP/1.1 client towards upstreams: per (host, port, TLS settings) a pool of
/// keep-alive connections, each carrying one exchange at a time, and at most
/// `maxOpenPerUpstream` of them open: a request that would need one more fails at once with
/// `UpstreamFailure.saturated` (503), so a burst of slow requests cannot pile up connections
/// on an upstream. Bodies stream both ways with backpressure (the upstream is read only as
/// fast as the client takes the response); a
/// connection that failed, was told `Connection: close`, or whose exchange did not finish
/// cleanly is closed, never reused. No redirects are followed and nothing is decompressed.
/// Routes with `upstream_protocol: h2` or `h2c` use ``HTTP2Upstreams`` instead (`http2`).
public final class UpstreamClient: Sendable {
    struct PoolKey: Hashable, Sendable {
        let host: String
        let port: Int
        /// The TLS context connections of this pool were made with; compared by identity, so
        /// a route table rebuilt with changed upstream TLS files gets fresh connections.
        let tls: NIOSSLContext?

        static func == (lhs: PoolKey, rhs: PoolKey) -> Bool {
            lhs.host == rhs.host && lhs.port == rhs.port && lhs.tls === rhs.tls
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(host)
            hasher.combine(port)
            hasher.combine(tls.map(ObjectIdentifier.init))
        }
    }

    public struct Timeouts: Sendable {
        /// TCP connect; a TLS handshake that follows counts against the route's timeout for
        /// the response head.
        public var connect: Duration = .seconds(5)
        /// Silence from the upstream while the client waits for more of a response body.
        public var read: Duration = .seconds(60)
        /// How long an unused pooled connection is kept open.
        public var idle: Duration = .seconds(60)

        public init() {}
    }

    /// The connections of one upstream: those waiting for an exchange, and how many are open.
    struct Pool {
        var idle: [UpstreamConnection] = []
        var open = 0
    }

    private enum Reservation {
        case pooled(UpstreamConnection)
        case newConnection
        case saturated
    }

    private let pools = Mutex<[PoolKey: Pool]>([:])
    /// Multiplexed HTTP/2 connections, for routes that speak it to their upstream.
    let http2: HTTP2Upstreams
    private let defaultTLS: NIOSSLContext
    let timeouts: Timeouts
    /// Idle connections kept per upstream; more are closed when their exchange ends.
    let maxIdlePerUpstream: Int
    /// Open connections (idle or busy) per upstream.
    let maxOpenPerUpstream: Int

    /// - Throws: when the default TLS context (system trust store) cannot be built.
    public init(timeouts: Timeouts = Timeouts(), maxIdlePerUpstream: Int = 128, maxOpenPerUpstream: Int = 1024) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        defaultTLS = try NIOSSLContext(configuration: configuration)
        http2 = try HTTP2Upstreams(timeouts: timeouts)
        self.timeouts = timeouts
        self.maxIdlePerUpstream = maxIdlePerUpstream
        self.maxOpenPerUpstream = maxOpenPerUpstream
    }

    /// A pooled connection to `endpoint` when one is idle (and `fresh` is false), otherwise a
    /// new one on `eventLoop`. `reused` says which, for the retry rule.
    func connection(
        to endpoint: UpstreamEndpoint, tls: NIOSSLContext?, on eventLoop: any EventLoop, deadline: NIODeadline,
        fresh: Bool
    ) async throws(UpstreamFailure) -> (connection: UpstreamConnection, reused: Bool) {
        let key = PoolKey(host: endpoint.host, port: endpoint.port, tls: endpoint.secure ? (tls ?? defaultTLS) : nil)
        switch reserve(key, fresh: fresh) {
        case let .pooled(connection): return (connection, true)
        case .saturated: throw .saturated
        case .newConnection: break
        }
        let connectTimeout = min(TimeAmount(timeouts.connect), deadline - .now())
        guard connectTimeout > .zero else {
            release(key)
            throw .timedOut
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.autoRead, value: false)
            .channelInitializer { [timeouts] channel in
                do {
                    let sync = channel.pipeline.syncOperations
                    if let context = key.tls {
                        try sync.addHandler(try NIOSSLClientHandler(context: context, serverHostname: endpoint.serverName))
                    }
                    try sync.addHTTPClientHandlers(leftOverBytesStrategy: .fireError)
                    try sync.addHandler(
                        UpstreamExchangeHandler(
                            readTimeout: TimeAmount(timeouts.read), idleTimeout: TimeAmount(timeouts.idle), reusable: true))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch ChannelError.connectTimeout {
            release(key)
            throw .unreachable("connect timeout")
        } catch {
            release(key)
            throw .unreachable("connect: \(error)")
        }
        do {
            return (
                try await channel.eventLoop.submit { [self] in
                    let handler = try channel.pipeline.syncOperations.handler(type: UpstreamExchangeHandler.self)
                    let connection = UpstreamConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                    // A cycle (handler, closure, connection) that `close()` breaks; the pool holds idle ones.
                    handler.onIdle = { [weak self] in self?.putIdle(connection, key: key) }
                    channel.closeFuture.whenComplete { [weak self] _ in self?.remove(connection, key: key) }
                    return connection
                }.get(), false
            )
        } catch {
            // Its close handler was not registered yet: the slot is given back here.
            channel.close(promise: nil)
            release(key)
            throw .unreachable("connection setup: \(error)")
        }
    }

    /// An idle connection, or a slot for a new one while fewer than `maxOpenPerUpstream` are open.
    private func reserve(_ key: PoolKey, fresh: Bool) -> Reservation {
        pools.withLock { pools in
            if !fresh, let pooled = pools[key]?.idle.popLast() { return .pooled(pooled) }
            guard pools[key, default: Pool()].open < maxOpenPerUpstream else { return .saturated }
            pools[key, default: Pool()].open += 1
            return .newConnection
        }
    }

    /// Gives back the slot of a connection that failed to open.
    private func release(_ key: PoolKey) {
        pools.withLock { Self.giveBackSlot(key, in: &$0) }
    }

    private static func giveBackSlot(_ key: PoolKey, in pools: inout [PoolKey: Pool]) {
        pools[key]?.open -= 1
        if pools[key]?.open == 0 { pools[key] = nil }
    }

    private func putIdle(_ connection: UpstreamConnection, key: PoolKey) {
        let kept = pools.withLock { pools in
            guard pools[key, default: Pool()].idle.count < maxIdlePerUpstream else { return false }
            pools[key, default: Pool()].idle.append(connection)
            return true
        }
        if !kept { connection.channel.close(promise: nil) }
    }

    /// A connection closed: out of the idle list if it was there, and its slot given back.
    private func remove(_ connection: UpstreamConnection, key: PoolKey) {
        pools.withLock { pools in
            if let index = pools[key]?.idle.firstIndex(where: { $0 === connection }) { pools[key]?.idle.remove(at: index) }
            Self.giveBackSlot(key, in: &pools)
        }
    }

    /// Kept-alive connections waiting in the pools, across upstreams (a gauge of `serve`).
    public var idleConnections: Int {
        pools.withLock { $0.values.reduce(0) { $0 + $1.idle.count } }
    }

    /// Closes every idle connection (at shutdown); connections in use close when their
    /// exchange ends.
    public func closeIdleConnections() {
        let all = pools.withLock { pools in
            var idle: [UpstreamConnection] = []
            for key in Array(pools.keys) {
                idle += pools[key]?.idle ?? []
                pools[key]?.idle.removeAll()
            }
            return idle
        }
        for connection in all { connection.channel.close(promise: nil) }
        http2.closeIdleConnections()
    }
}
