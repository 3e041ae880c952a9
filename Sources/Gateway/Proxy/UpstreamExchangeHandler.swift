import NIOCore
import NIOHTTP1

/// The exchange state of one upstream connection (HTTP/1.1) or stream (HTTP/2, through
/// `HTTP2FramePayloadToHTTP1ClientCodec`). Reads are issued only while the connection is idle
/// (to notice the upstream closing it), while a response head is awaited, and when the
/// consumer of a streamed body asks for more: that is the backpressure.
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
    /// The response's trailer fields, once its end arrived with some.
    private(set) var trailers: HTTPHeaders?
    /// The longest silence while more of a response body is awaited; nil: no limit (gRPC
    /// streams, bounded by their deadline and the route's stream lifetime instead).
    private let readTimeout: TimeAmount?
    private let idleTimeout: TimeAmount
    /// An HTTP/1.1 connection carries exchange after exchange; an HTTP/2 stream carries one.
    private let reusable: Bool
    /// Puts the connection back in its pool; set once the connection exists.
    var onIdle: (() -> Void)?

    init(readTimeout: TimeAmount?, idleTimeout: TimeAmount, reusable: Bool) {
        self.readTimeout = readTimeout
        self.idleTimeout = idleTimeout
        self.reusable = reusable
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

    func begin(
        _ head: HTTPRequestHead, hasBody: Bool, deadline: NIODeadline, sent: EventLoopPromise<Void>,
        response promise: EventLoopPromise<ResponseStart>
    ) {
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
        case let (.end(trailers), .collecting(head, promise, collected)):
            responseEnded = true
            self.trailers = trailers
            timer?.cancel()
            state = .streaming
            promise.succeed(ResponseStart(head: head, body: collected, complete: true, trailers: trailers))
            finishExchange()
        case let (.end(trailers), .streaming):
            responseEnded = true
            self.trailers = trailers
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
            promise.succeed(ResponseStart(head: head, body: [], complete: false, trailers: nil))
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
            if let readTimeout { arm(deadline: .now() + readTimeout, .timedOut) }
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
        if reusable, keepAlive, requestEnded, let context, context.channel.isActive {
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
