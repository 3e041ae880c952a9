import Foundation
import NIOCore

/// A base64 body decoded as it arrives, in whole groups of four characters (Foundation's
/// decoder). A padded group ends a segment: a body made of separately padded segments (a
/// gRPC-Web text client may encode each message apart) decodes as well as one unbroken stream.
/// A body that is not base64 fails the read: nothing undecodable reaches the upstream.
struct Base64Decoding<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base

    struct NotBase64: Error, CustomStringConvertible {
        var description: String { "the gRPC-Web text body is not base64" }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        /// Characters not yet decoded: less than a group, or groups after the last padded one.
        var pending: [UInt8] = []

        mutating func next() async throws -> ByteBuffer? {
            while let part = try await base.next() {
                pending.append(contentsOf: part.readableBytesView.lazy.filter { !Self.isWhitespace($0) })
                var decoded = ByteBuffer()
                // Whole groups up to and including each padded one, then the rest of the whole groups.
                let whole = pending.count - pending.count % 4
                var start = 0
                for end in stride(from: 4, through: whole, by: 4) where end == whole || pending[end - 1] == UInt8(ascii: "=") {
                    guard let bytes = Data(base64Encoded: Data(pending[start..<end])) else { throw NotBase64() }
                    decoded.writeBytes(bytes)
                    start = end
                }
                pending.removeFirst(whole)
                if decoded.readableBytes > 0 { return decoded }
            }
            guard pending.isEmpty else { throw NotBase64() }
            return nil
        }

        private static func isWhitespace(_ character: UInt8) -> Bool {
            character == UInt8(ascii: " ") || character == UInt8(ascii: "\r") || character == UInt8(ascii: "\n") || character == UInt8(ascii: "\t")
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator()) }
}
