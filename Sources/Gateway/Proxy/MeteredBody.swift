import NIOCore
import Synchronization

/// A request body on its way upstream, counted into `meter` (the bytes-up of a stream's audit
/// record) and cut off at `limit`: the upstream request fails (and the client gets an error)
/// instead of the gateway relaying an unbounded chunked body.
struct MeteredBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    struct TooLarge: Error {}

    let base: Base
    let limit: Int
    let meter: ByteMeter

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        var remaining: Int
        let meter: ByteMeter

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else { return nil }
            remaining -= chunk.readableBytes
            if remaining < 0 { throw TooLarge() }
            meter.add(chunk.readableBytes)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), remaining: limit, meter: meter) }
}

/// Bytes that passed one way through a stream.
final class ByteMeter: Sendable {
    private let count = Atomic<Int>(0)

    func add(_ bytes: Int) { count.add(bytes, ordering: .relaxed) }
    var bytes: Int { count.load(ordering: .relaxed) }
}
