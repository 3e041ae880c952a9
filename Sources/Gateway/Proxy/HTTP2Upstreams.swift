import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// HTTP/2 towards upstreams (`upstream_protocol: h2` over TLS, negotiated by ALPN; `h2c` over
/// TCP with prior knowledge). Each upstream gets multiplexed connections, shared by every
/// exchange: an exchange is one stream, opened on the connection carrying the fewest, and a new
/// connection is opened only when every one is at `maxStreamsPerConnection`. A stream reads
/// from the upstream only as fast as the client takes the response (HTTP/2 flow control
/// carries that back), and a request body is written only as fast as the upstream's window
/// allows: both directions stream at once, which bidirectional gRPC needs. Trailers pass both
/// ways. A connection the upstream closes or sends GOAWAY on leaves the pool; its open streams
/// finish on it.
final class HTTP2Upstreams: Sendable {
    /// One multiplexed connection and how many exchanges it carries.
    final class Connection: Sendable {
        let channel: any Channel
        let multiplexer: NIOHTTP2Handler.StreamMultiplexer
        let streams = Atomic<Int>(0)

        init(channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer) {
            self.channel = channel
            self.multiplexer = multiplexer
        }
    }

    private let connections = Mutex<[UpstreamClient.PoolKey: [Connection]]>([:])
    private let defaultTLS: NIOSSLContext
    private let timeouts: UpstreamClient.Timeouts
    /// Exchanges one connection carries before another is opened (grpc-go and grpcio servers
    /// allow 100 concurrent streams by default).
    let maxStreamsPerConnection: Int
    /// Connections per upstream; beyond them a request fails with `saturated`.
    let maxConnectionsPerUpstream: Int

    init(timeouts: UpstreamClient.Timeouts, maxStreamsPerConnection: Int = 100, maxConnectionsPerUpstream: Int = 16) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        defaultTLS = try NIOSSLContext(configuration: UpstreamTLS.offeringHTTP2(configuration))
        self.timeouts = timeouts
        self.maxStreamsPerConnection = maxStreamsPerConnection
        self.maxConnectionsPerUpstream = maxConnectionsPerUpstream
    }

    /// A new stream to `endpoint`, ready for one exchange. `readTimeout` bounds the upstream's
    /// silence while a response body is awaited (nil: none, for calls bounded otherwise).
    func stream(
        to endpoint: UpstreamEndpoint, tls: NIOSSLContext?, on eventLoop: any EventLoop, deadline: NIODeadline,
        readTimeout: TimeAmount?
    ) async throws(UpstreamFailure) -> UpstreamConnection {
        let key = UpstreamClient.PoolKey(host: endpoint.host, port: endpoint.port, tls: endpoint.secure ? (tls ?? defaultTLS) : nil)
        // A connection that went away between being picked and carrying the stream is dropped,
        // and the stream opened on another: at most twice, then the failure is the answer.
        for attempt in 0..<3 {
            let connection = try await self.connection(for: key, endpoint: endpoint, on: eventLoop, deadline: deadline)
            do {
                return try await open(on: connection, secure: key.tls != nil, readTimeout: readTimeout)
            } catch {
                if !(error is StreamSetupFailure) { connection.streams.subtract(1, ordering: .relaxed) }
                drop(connection, key: key)
                if attempt == 2 { throw .unreachable("cannot open an HTTP/2 stream: \(error)") }
            }
        }
        throw .unreachable("cannot open an HTTP/2 stream")
    }

    private func open(on connection: Connection, secure: Bool, readTimeout: TimeAmount?) async throws -> UpstreamConnection {
        let timeouts = self.timeouts
        let stream = try await connection.multiplexer.createStreamChannel { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.syncOptions?.setOption(.autoRead, value: false)
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: secure ? .https : .http))
                try sync.addHandler(
                    UpstreamExchangeHandler(readTimeout: readTimeout, idleTimeout: TimeAmount(timeouts.idle), reusable: false))
            }
        }.get()
        // From here the stream's closing gives its slot back.
        stream.closeFuture.whenComplete { _ in connection.streams.subtract(1, ordering: .relaxed) }
        do {
            return try await stream.eventLoop.submit {
                let handler = try stream.pipeline.syncOperations.handler(type: UpstreamExchangeHandler.self)
                return UpstreamConnection(channel: stream, handler: NIOLoopBound(handler, eventLoop: stream.eventLoop))
            }.get()
        } catch {
            stream.close(promise: nil)
            throw StreamSetupFailure.afterOpening(error)
        }
    }

    /// A stream that was opened and failed afterwards: its slot is given back by its closing.
    private enum StreamSetupFailure: Error {
        case afterOpening(any Error)
    }

    /// The pooled connection with the fewest streams, its count already raised for the caller;
    /// a new connection when all are full.
    private func connection(
        for key: UpstreamClient.PoolKey, endpoint: UpstreamEndpoint, on eventLoop: any EventLoop, deadline: NIODeadline
    ) async throws(UpstreamFailure) -> Connection {
        let reserved: Connection? = connections.withLock { pools in
            let open = (pools[key] ?? []).filter { $0.channel.isActive }
            pools[key] = open
            guard let least = open.min(by: { $0.streams.load(ordering: .relaxed) < $1.streams.load(ordering: .relaxed) }),
                least.streams.load(ordering: .relaxed) < maxStreamsPerConnection
            else { return nil }
            least.streams.add(1, ordering: .relaxed)
            return least
        }
        if let reserved { return reserved }
        guard connections.withLock({ ($0[key]?.count ?? 0) < maxConnectionsPerUpstream }) else { throw .saturated }
        let made = try await connect(key, endpoint: endpoint, on: eventLoop, deadline: deadline)
        made.streams.add(1, ordering: .relaxed)
        connections.withLock { $0[key, default: []].append(made) }
        made.channel.closeFuture.whenComplete { [weak self] _ in self?.drop(made, key: key) }
        return made
    }

    private func connect(
        _ key: UpstreamClient.PoolKey, endpoint: UpstreamEndpoint, on eventLoop: any EventLoop, deadline: NIODeadline
    ) async throws(UpstreamFailure) -> Connection {
        let connectTimeout = min(TimeAmount(timeouts.connect), deadline - .now())
        guard connectTimeout > .zero else { throw .timedOut }
        let negotiated = eventLoop.makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let context = key.tls {
                        try sync.addHandler(try NIOSSLClientHandler(context: context, serverHostname: endpoint.serverName))
                        try sync.addHandler(HTTP2NegotiationCheck(negotiated: negotiated))
                    } else {
                        negotiated.succeed()
                    }
                    var connection = NIOHTTP2Handler.ConnectionConfiguration()
                    connection.initialSettings = [
                        HTTP2Setting(parameter: .maxConcurrentStreams, value: 0),
                        HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
                        HTTP2Setting(parameter: .maxHeaderListSize, value: 1 << 16),
                        HTTP2Setting(parameter: .enablePush, value: 0),
                    ]
                    var stream = NIOHTTP2Handler.StreamConfiguration()
                    stream.targetWindowSize = 1 << 20
                    // The upstream may not open streams towards the gateway.
                    _ = try sync.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: connection, streamConfiguration: stream,
                        inboundStreamInitializer: { $0.close() })
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch ChannelError.connectTimeout {
            negotiated.fail(ChannelError.connectTimeout(connectTimeout))
            throw .unreachable("connect timeout")
        } catch {
            negotiated.fail(error)
            throw .unreachable("connect: \(error)")
        }
        do {
            try await negotiated.futureResult.get()
            let multiplexer = try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
            }.get()
            return Connection(channel: channel, multiplexer: multiplexer)
        } catch {
            channel.close(promise: nil)
            throw .unreachable("HTTP/2 setup: \(error)")
        }
    }

    private func drop(_ connection: Connection, key: UpstreamClient.PoolKey) {
        connections.withLock { pools in
            pools[key]?.removeAll { $0 === connection }
            if pools[key]?.isEmpty == true { pools[key] = nil }
        }
        if connection.streams.load(ordering: .relaxed) <= 0 { connection.channel.close(promise: nil) }
    }

    /// Closes connections that carry no stream (at shutdown); busy ones close after their
    /// exchanges, when the process ends.
    func closeIdleConnections() {
        let idle = connections.withLock { pools in
            pools.values.flatMap { $0 }.filter { $0.streams.load(ordering: .relaxed) == 0 }
        }
        for connection in idle { connection.channel.close(promise: nil) }
    }
}
