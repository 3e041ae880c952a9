import HTTPTypes
import NIOCore
import NIOHTTP1

/// One keep-alive HTTP/1.1 connection, or one HTTP/2 stream, to an upstream; its handler is
/// only touched on its event loop.
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
    func start(
        _ head: HTTPRequestHead, hasBody: Bool, deadline: NIODeadline
    )
        -> (sent: EventLoopFuture<Void>, response: EventLoopFuture<ResponseStart>)
    {
        let sent = channel.eventLoop.makePromise(of: Void.self)
        let response = channel.eventLoop.makePromise(of: ResponseStart.self)
        let handler = self.handler
        channel.eventLoop.execute { handler.value.begin(head, hasBody: hasBody, deadline: deadline, sent: sent, response: response) }
        return (sent.futureResult, response.futureResult)
    }

    /// Streams the request body; the upload ends the exchange's connection when the body
    /// fails (the client went away or exceeded the route's limit), so a half-sent request is
    /// never completed or reused.
    /// `trailers`, asked once the body has ended, end it (a chunked or HTTP/2 upload only).
    func upload<Body: AsyncSequence & Sendable>(
        _ body: Body, trailers: (@Sendable () async -> HTTPFields?)? = nil
    ) async where Body.Element == ByteBuffer {
        do {
            for try await chunk in body {
                try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(chunk))).get()
            }
            let fields = await trailers?()
            try await channel.writeAndFlush(HTTPClientRequestPart.end(fields.map(Self.headers))).get()
        } catch {
            abandon()
        }
    }

    private static func headers(_ fields: HTTPFields) -> HTTPHeaders {
        HTTPHeaders(fields.map { ($0.name.canonicalName, $0.value) })
    }

    /// The next part of a streamed response body; nil at its end.
    func nextBodyPart() async throws -> ByteBuffer? {
        let promise = channel.eventLoop.makePromise(of: ByteBuffer?.self)
        let handler = self.handler
        channel.eventLoop.execute { handler.value.next(promise) }
        return try await promise.futureResult.get()
    }

    /// The trailer fields that ended the response (once `nextBodyPart` returned nil).
    func responseTrailers() async -> HTTPHeaders? {
        let handler = self.handler
        return try? await channel.eventLoop.submit { handler.value.trailers }.get()
    }

    /// Closes the connection of an exchange nobody will finish.
    func abandon() {
        channel.close(promise: nil)
    }
}
