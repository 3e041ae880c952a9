import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Synchronization

/// A response body still arriving from the upstream when its head was returned. If the
/// server never relays it (or stops part-way), the upstream connection is closed, not reused.
///
/// With a ``StreamWatch`` the relay is also re-decided while it runs: when the watch closes
/// it, a gRPC call ends with the watch's status in its trailers (7 or 16 when access ended, 4
/// at its deadline, 14 at the route's lifetime), any other response is cut off; either way the
/// stream's end is audited.
final class StreamedResponse: Sendable {
    private let connection: UpstreamConnection
    private let upload: Task<Void, Never>?
    private let watch: StreamWatch?
    /// The watch's running task (``StreamWatch/start(closing:)``).
    private let watcher: Task<Void, Never>?
    private let grpc: Bool
    private let status: Int
    private let requestID: String
    private let finished = Atomic<Bool>(false)

    init(
        connection: UpstreamConnection, upload: Task<Void, Never>?, watch: StreamWatch?, watcher: Task<Void, Never>?, grpc: Bool, status: Int,
        requestID: String
    ) {
        self.connection = connection
        self.upload = upload
        self.watch = watch
        self.watcher = watcher
        self.grpc = grpc
        self.status = status
        self.requestID = requestID
    }

    /// The gateway closed the stream on its own account.
    struct Closed: Error, CustomStringConvertible {
        let closure: StreamClosure
        var description: String { closure.description }
    }

    /// Copies the rest of the body to the client at the pace the client takes it, then the
    /// upstream's trailers.
    func relay(to writer: inout any ResponseBodyWriter) async throws {
        var bytesDown = 0
        var ending = StreamClosure.ended
        var trailers: HTTPFields?
        do {
            while let part = try await connection.nextBodyPart() {
                bytesDown += part.readableBytes
                do {
                    try await writer.write(part)
                } catch {
                    ending = .clientGone
                    break
                }
            }
            if case .ended = ending {
                finished.store(true, ordering: .relaxed)
                trailers = Self.fields(await connection.responseTrailers())
            }
        } catch {
            ending = .upstreamFailed("\(error)")
        }
        watcher?.cancel()
        if !finished.load(ordering: .relaxed) { connection.abandon() }
        await settleUpload()
        // A stream that ended by itself ended so, even if the watch decided to close it as it did.
        let closure = finished.load(ordering: .relaxed) ? ending : watch?.closure ?? ending
        if grpc, let (code, message) = closure.grpcStatus {
            trailers = GRPCRefusal.trailers(code: code, message: message, requestID: requestID)
        }
        await watch?.finish(
            closure, bytesDown: bytesDown, grpcStatus: trailers?[GRPCRefusal.status].flatMap { Int($0) }, status: status)
        switch closure {
        case .ended: break
        case .upstreamFailed, .clientGone, .revoked, .lifetimeReached, .deadlineExceeded:
            // A gRPC client reads the status in the trailers; any other client only learns
            // that the body was cut off.
            guard grpc, closure.grpcStatus != nil else { throw Closed(closure: closure) }
        }
        try await writer.finish(trailers)
    }

    /// The upstream's trailer fields as the client receives them; nil when there were none.
    static func fields(_ headers: HTTPHeaders?) -> HTTPFields? {
        guard let headers, !headers.isEmpty else { return nil }
        var fields = HTTPFields()
        for header in headers {
            guard let name = HTTPField.Name(header.name) else { continue }
            fields.append(HTTPField(name: name, value: header.value))
        }
        return fields
    }

    /// The response is over: a request body still being sent is no longer wanted.
    private func settleUpload() async {
        upload?.cancel()
        await upload?.value
    }

    deinit {
        upload?.cancel()
        watcher?.cancel()
        if !finished.load(ordering: .relaxed) { connection.abandon() }
    }
}
