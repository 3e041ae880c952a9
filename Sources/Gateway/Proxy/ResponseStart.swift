import NIOCore
import NIOHTTP1

/// The start of an upstream response: its head, and the whole body when it arrived with the
/// head (then the connection is already back in its pool).
struct ResponseStart: Sendable {
    let head: HTTPResponseHead
    let body: [ByteBuffer]
    let complete: Bool
    /// Trailer fields of a complete response (gRPC's status travels in them).
    let trailers: HTTPHeaders?
}
