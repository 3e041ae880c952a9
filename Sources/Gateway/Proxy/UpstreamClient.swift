import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

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
              var host = url.host(percentEncoded: false), !host.isEmpty else { return nil }
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

/// Portcullis's HTTP/1.1 client towards upstreams: per (host, port, TLS settings) a pool of
/// keep-alive connections, each carrying one exchange at a time, and at most
/// `maxOpenPerUpstream` of them open: a request that would need one more fails at once with
/// `UpstreamFailure.saturated` (503), so a burst of slow requests cannot pile up connections
/// on an upstream. Bodies stream both ways with backpressure (the upstream is read only as
/// fast as the client takes the response); a
/// connection that failed, was told `Connection: close`, or whose exchange did not finish
/// cleanly is closed, never reused. No redirects are followed and nothing is decompressed.
/// HTTP/2 towards upstreams is not spoken: connections offer no ALPN.
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
        self.timeouts = timeouts
        self.maxIdlePerUpstream = maxIdlePerUpstream
        self.maxOpenPerUpstream = maxOpenPerUpstream
    }

    /// A pooled connection to `endpoint` when one is idle (and `fresh` is false), otherwise a
    /// new one on `eventLoop`. `reused` says which, for the retry rule.
    func connection(to endpoint: UpstreamEndpoint, tls: NIOSSLContext?, on eventLoop: any EventLoop, deadline: NIODeadline,
                    fresh: Bool) async throws(UpstreamFailure) -> (connection: UpstreamConnection, reused: Bool) {
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
                    try sync.addHandler(UpstreamExchangeHandler(readTimeout: TimeAmount(timeouts.read), idleTimeout: TimeAmount(timeouts.idle)))
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
            return (try await channel.eventLoop.submit { [self] in
                let handler = try channel.pipeline.syncOperations.handler(type: UpstreamExchangeHandler.self)
                let connection = UpstreamConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                // A cycle (handler, closure, connection) that `close()` breaks; the pool holds idle ones.
                handler.onIdle = { [weak self] in self?.putIdle(connection, key: key) }
                channel.closeFuture.whenComplete { [weak self] _ in self?.remove(connection, key: key) }
                return connection
            }.get(), false)
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
    }
}

/// The start of an upstream response: its head, and the whole body when it arrived with the
/// head (then the connection is already back in its pool).
struct ResponseStart: Sendable {
    let head: HTTPResponseHead
    let body: [ByteBuffer]
    let complete: Bool
}

/// Why an exchange failed, with what the retry rule needs to know.
enum ExchangeFailure: Error {
    /// The pooled connection had closed before anything was written: try another.
    case stale
    /// `beforeResponse`: not one byte of a response had arrived.
    case failed(UpstreamFailure, beforeResponse: Bool)
}

/// One keep-alive connection to an upstream; its handler is only touched on its event loop.
final class UpstreamConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<UpstreamExchangeHandler>

    init(channel: any Channel, handler: NIOLoopBound<UpstreamExchangeHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Sends the request head (and its end when there is no body). `sent` resolves once the
    /// head is written (or fails with `ExchangeFailure.stale`: the body must not be read before
    /// it is known where it goes); `response` with the response head, or fails when `deadline`
    /// passes first.
    func start(_ head: HTTPRequestHead, hasBody: Bool, deadline: NIODeadline)
        -> (sent: EventLoopFuture<Void>, response: EventLoopFuture<ResponseStart>) {
        let sent = channel.eventLoop.makePromise(of: Void.self)
        let response = channel.eventLoop.makePromise(of: ResponseStart.self)
        let handler = self.handler
        channel.eventLoop.execute { handler.value.begin(head, hasBody: hasBody, deadline: deadline, sent: sent, response: response) }
        return (sent.futureResult, response.futureResult)
    }

    /// Streams the request body; the upload ends the exchange's connection when the body
    /// fails (the client went away or exceeded the route's limit), so a half-sent request is
    /// never completed or reused.
    func upload<Body: AsyncSequence & Sendable>(_ body: Body) async where Body.Element == ByteBuffer {
        do {
            for try await chunk in body {
                try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(chunk))).get()
            }
            try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        } catch {
            abandon()
        }
    }

    /// The next part of a streamed response body; nil at its end.
    func nextBodyPart() async throws -> ByteBuffer? {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer?.self)
        let handler = self.handler
        channel.eventLoop.execute { handler.value.next(promise) }
        return try await promise.futureResult.get()
    }

    /// Closes the connection of an exchange nobody will finish.
    func abandon() {
        channel.close(promise: nil)
    }
}

/// The HTTP/1.1 exchange state of one upstream connection. Reads are issued only while the
/// connection is idle (to notice the upstream closing it), while a response head is awaited,
/// and when the consumer of a streamed body asks for more: that is the backpressure.
final class UpstreamExchangeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private enum State {
        case idle
        case awaitingHead(EventLoopPromise<ResponseStart>)
        /// Head seen; body parts that arrive in the same read are kept for the fast path.
        case collecting(HTTPResponseHead, EventLoopPromise<ResponseStart>, [ByteBuffer])
        case streaming
        case closed
    }

    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var parts = CircularBuffer<ByteBuffer>()
    private var waiter: EventLoopPromise<ByteBuffer?>?
    private var failure: UpstreamFailure?
    private var responseEnded = false
    private var requestEnded = true
    private var keepAlive = false
    private var receivedResponseBytes = false
    private var timer: Scheduled<Void>?
    private let readTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    /// Puts the connection back in its pool; set once the connection exists.
    var onIdle: (() -> Void)?

    init(readTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.readTimeout = readTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { enterIdle() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(.unreachable("connection handler removed"))
        self.context = nil
        onIdle = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        enterIdle()
        context.fireChannelActive()
    }

    func begin(_ head: HTTPRequestHead, hasBody: Bool, deadline: NIODeadline, sent: EventLoopPromise<Void>,
               response promise: EventLoopPromise<ResponseStart>) {
        guard case .idle = state, let context, context.channel.isActive else {
            sent.fail(ExchangeFailure.stale)
            promise.fail(ExchangeFailure.stale)
            return
        }
        sent.succeed()
        state = .awaitingHead(promise)
        parts.removeAll()
        failure = nil
        responseEnded = false
        keepAlive = false
        receivedResponseBytes = false
        requestEnded = !hasBody
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !hasBody { context.write(wrapOutboundOut(.end(nil)), promise: nil) }
        context.flush()
        arm(deadline: deadline, .timedOut)
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { requestEnded = true }
        context.write(data, promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receivedResponseBytes = true
        switch (unwrapInboundIn(data), state) {
        case let (.head(head), .awaitingHead(promise)):
            keepAlive = head.isKeepAlive
            state = .collecting(head, promise, [])
        case let (.body(part), .collecting(head, promise, collected)):
            state = .collecting(head, promise, collected + [part])
        case let (.body(part), .streaming):
            if let waiter {
                self.waiter = nil
                timer?.cancel()
                waiter.succeed(part)
            } else {
                parts.append(part)
            }
        case let (.end, .collecting(head, promise, collected)):
            responseEnded = true
            timer?.cancel()
            state = .streaming
            promise.succeed(ResponseStart(head: head, body: collected, complete: true))
            finishExchange()
        case (.end, .streaming):
            responseEnded = true
            if let waiter {
                self.waiter = nil
                timer?.cancel()
                waiter.succeed(nil)
                finishExchange()
            }
        default:
            // Bytes while idle, or a second head: the connection's framing cannot be trusted.
            fail(.unreachable("unexpected data from the upstream"))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch state {
        case let .collecting(head, promise, collected):
            // More of the body is coming: hand the head over and stream the rest on demand.
            timer?.cancel()
            parts.append(contentsOf: collected)
            state = .streaming
            promise.succeed(ResponseStart(head: head, body: [], complete: false))
        case .idle, .awaitingHead:
            context.read()
        case .streaming:
            if waiter != nil { context.read() }
        case .closed:
            break
        }
        context.fireChannelReadComplete()
    }

    /// The consumer of a streamed body asks for its next part.
    func next(_ promise: EventLoopPromise<ByteBuffer?>) {
        if !parts.isEmpty {
            promise.succeed(parts.removeFirst())
        } else if let failure {
            promise.fail(failure)
        } else if responseEnded {
            promise.succeed(nil)
            finishExchange()
        } else if case .streaming = state, let context {
            waiter = promise
            arm(deadline: .now() + readTimeout, .timedOut)
            context.read()
        } else {
            promise.fail(UpstreamFailure.unreachable("the upstream connection closed"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(.unreachable("\(error)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.unreachable("the upstream closed the connection"))
        context.fireChannelInactive()
    }

    /// The response was read to its end: back to the pool if both sides allow it.
    private func finishExchange() {
        guard case .streaming = state else { return }
        if keepAlive, requestEnded, let context, context.channel.isActive {
            enterIdle()
            onIdle?()
        } else {
            close()
        }
    }

    private func enterIdle() {
        guard let context else { return }
        state = .idle
        parts.removeAll()
        arm(deadline: .now() + idleTimeout, nil)
        context.read()
    }

    /// Schedules the one timer of the current state: failing with `failure`, or (nil) closing an
    /// idle connection.
    private func arm(deadline: NIODeadline, _ failure: UpstreamFailure?) {
        timer?.cancel()
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            if let failure { fail(failure) } else { close() }
        }
    }

    private func fail(_ error: UpstreamFailure) {
        switch state {
        case let .awaitingHead(promise):
            promise.fail(ExchangeFailure.failed(error, beforeResponse: !receivedResponseBytes))
        case let .collecting(_, promise, _):
            promise.fail(ExchangeFailure.failed(error, beforeResponse: false))
        case .streaming:
            if !responseEnded { failure = error }
            waiter?.fail(error)
            waiter = nil
        case .idle, .closed:
            break
        }
        close()
    }

    private func close() {
        state = .closed
        timer?.cancel()
        timer = nil
        onIdle = nil
        context?.close(promise: nil)
    }
}
