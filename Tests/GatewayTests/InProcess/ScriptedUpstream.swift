import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP/1.1 upstream on a loopback socket whose answers a test scripts: for the `index`-th
/// request of the `connection`-th connection (both from 0 and 1), a reply, or nil to close the
/// connection without answering.
final class ScriptedUpstream: Sendable {
    struct Reply: Sendable {
        var headers: HTTPHeaders = [:]
        var body = "ok"

        static let ok = Reply()
    }

    typealias Script = @Sendable (_ connection: Int, _ index: Int) -> Reply?

    /// What the upstream saw: `<connection> <method> <path>` for every request, in order.
    final class Log: Sendable {
        private let lines = Mutex<[String]>([])
        private let connections = Atomic(0)

        func newConnection() -> Int { connections.add(1, ordering: .relaxed).newValue }
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    let received = Log()
    private let channel: any Channel

    init(_ script: @escaping Script) async throws {
        let received = self.received
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                let number = received.newConnection()
                return channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Responder(connection: number, received: received, script: script))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    var url: URL { URL(string: "http://127.0.0.1:\(channel.localAddress!.port!)")! }

    func stop() async throws { try await channel.close() }

    private final class Responder: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let connection: Int
        let received: Log
        let script: Script
        var requests = 0

        init(connection: Int, received: Log, script: @escaping Script) {
            self.connection = connection
            self.received = received
            self.script = script
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head):
                received.append("\(connection) \(head.method.rawValue) \(head.uri)")
            case .body:
                break
            case .end:
                defer { requests += 1 }
                guard let reply = script(connection, requests) else {
                    context.close(promise: nil)
                    return
                }
                var headers = reply.headers
                headers.replaceOrAdd(name: "Content-Length", value: String(reply.body.utf8.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
