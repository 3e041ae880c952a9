import NIOCore

/// A base64 body decoded as it arrives, in whole groups of four characters. Each group is
/// decoded on its own, so a body made of separately padded segments (a gRPC-Web text client
/// may encode each message apart) decodes as well as one unbroken stream. A body that is not
/// base64 fails the read: nothing undecodable reaches the upstream.
struct Base64Decoding<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base

    struct NotBase64: Error, CustomStringConvertible {
        var description: String { "the gRPC-Web text body is not base64" }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        /// Characters of a group not yet complete.
        var group: [UInt8] = []
        var ended = false

        mutating func next() async throws -> ByteBuffer? {
            while !ended {
                guard let part = try await base.next() else {
                    ended = true
                    guard group.isEmpty else { throw NotBase64() }
                    return nil
                }
                var decoded = ByteBuffer()
                for character in part.readableBytesView where !Base64.isWhitespace(character) {
                    group.append(character)
                    guard group.count == 4 else { continue }
                    guard Base64.decode(group, into: &decoded) else { throw NotBase64() }
                    group.removeAll(keepingCapacity: true)
                }
                if decoded.readableBytes > 0 { return decoded }
            }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator()) }
}
