import NIOCore

/// PostgreSQL's COPY text format, written straight into the bytes sent: one line per row,
/// tab-separated, `\N` for NULL, with backslash escapes for the characters that would otherwise
/// end a field or a row. Works on UTF-8 bytes (every escaped character is ASCII), so a field
/// with nothing to escape is copied in one piece.
struct CopyTextWriter {
    private(set) var buffer: ByteBuffer
    private var first = true

    init(capacity: Int = 512) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// Ends the current row; the next field starts a new one.
    mutating func endRow() {
        buffer.writeInteger(UInt8(ascii: "\n"))
        first = true
    }

    private mutating func separate() {
        if first { first = false } else { buffer.writeInteger(UInt8(ascii: "\t")) }
    }

    mutating func null() {
        separate()
        buffer.writeStaticString("\\N")
    }

    mutating func text(_ value: String?) {
        guard let value else { return null() }
        separate()
        escape(value.utf8)
    }

    mutating func integer<I: BinaryInteger>(_ value: I?) {
        guard let value else { return null() }
        separate()
        buffer.writeString(String(value))
    }

    /// A `text[]` literal (`{"a","b"}`): each element quoted with `"` and `\` escaped for the
    /// array syntax, then the whole escaped for COPY (so `\` is written four times).
    mutating func textArray(_ values: [String]) {
        separate()
        buffer.writeInteger(UInt8(ascii: "{"))
        for (index, value) in values.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            buffer.writeInteger(UInt8(ascii: "\""))
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "\""): buffer.writeStaticString("\\\\\"")
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\\\\\")
                default: escape(byte)
                }
            }
            buffer.writeInteger(UInt8(ascii: "\""))
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// A `bytea` in hex form (`\x0a1b…`, its backslash escaped for COPY).
    mutating func bytes(_ value: [UInt8]) {
        separate()
        buffer.writeStaticString("\\\\x")
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: value.count * 2) { out in
            for (index, byte) in value.enumerated() {
                out[2 * index] = Self.hexDigits[Int(byte >> 4)]
                out[2 * index + 1] = Self.hexDigits[Int(byte & 0x0f)]
            }
            return value.count * 2
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func escape(_ bytes: String.UTF8View) {
        if !bytes.contains(where: Self.needsEscape) {
            buffer.writeBytes(bytes)
            return
        }
        for byte in bytes { escape(byte) }
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
        case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
        case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
        case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
        default: buffer.writeInteger(byte)
        }
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
