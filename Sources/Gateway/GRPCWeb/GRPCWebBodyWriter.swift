import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Writes a gRPC answer's body as gRPC-Web: the messages as they are (base64 in the text
/// form), then the trailers as a frame of their own, flagged 0x80, holding them as HTTP/1.1
/// header lines (PROTOCOL-WEB.md, "Message framing").
struct GRPCWebBodyWriter: ResponseBodyWriter {
    var base: any ResponseBodyWriter
    let text: Bool
    /// In the text form, the bytes (at most two) not yet encoded: base64 goes out in whole
    /// groups of three until the end, so the client decodes one unbroken base64 stream.
    private var pending: [UInt8] = []

    init(base: any ResponseBodyWriter, text: Bool) {
        self.base = base
        self.text = text
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        guard text else { return try await base.write(buffer) }
        pending.append(contentsOf: buffer.readableBytesView)
        let whole = pending.count - pending.count % 3
        guard whole > 0 else { return }
        try await base.write(ByteBuffer(string: Data(pending[..<whole]).base64EncodedString()))
        pending.removeFirst(whole)
    }

    consuming func finish(_ trailers: HTTPFields?) async throws {
        var frame = ByteBuffer()
        if let trailers {
            var block = ""
            for field in trailers { block += "\(field.name.canonicalName): \(field.value)\r\n" }
            frame.writeInteger(UInt8(0x80))
            frame.writeInteger(UInt32(block.utf8.count))
            frame.writeString(block)
        }
        if text {
            pending.append(contentsOf: frame.readableBytesView)
            if !pending.isEmpty { try await base.write(ByteBuffer(string: Data(pending).base64EncodedString())) }
        } else if frame.readableBytes > 0 {
            try await base.write(frame)
        }
        try await base.finish(nil)
    }
}
