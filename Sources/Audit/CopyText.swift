/// PostgreSQL's COPY text format: one line per row, tab-separated, `\N` for NULL, with
/// backslash escapes for the characters that would otherwise end a field or a row.
struct CopyTextRow {
    private(set) var line = ""
    private var first = true

    private mutating func separate() {
        if first { first = false } else { line.append("\t") }
    }

    mutating func null() {
        separate()
        line.append("\\N")
    }

    mutating func text(_ value: String?) {
        guard let value else { return null() }
        separate()
        Self.escape(value, into: &line)
    }

    mutating func integer<I: BinaryInteger>(_ value: I?) {
        guard let value else { return null() }
        separate()
        line.append(String(value))
    }

    /// A `text[]` literal (`{"a","b"}`), escaped for the array syntax and then for COPY.
    mutating func textArray(_ values: [String]) {
        var literal = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { literal.append(",") }
            literal.append("\"")
            if value.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                for character in value.unicodeScalars {
                    if character == "\"" || character == "\\" { literal.append("\\") }
                    literal.unicodeScalars.append(character)
                }
            } else {
                literal.append(value)
            }
            literal.append("\"")
        }
        literal.append("}")
        text(literal)
    }

    /// A `bytea` in hex form (`\x0a1b…`).
    mutating func bytes(_ value: [UInt8]) {
        separate()
        // `\x` with its backslash escaped for COPY, then two lower-case hex digits per byte.
        line.append("\\\\x")
        line.append(String(unsafeUninitializedCapacity: value.count * 2) { buffer in
            for (index, byte) in value.enumerated() {
                buffer[2 * index] = Self.hexDigits[Int(byte >> 4)]
                buffer[2 * index + 1] = Self.hexDigits[Int(byte & 0x0f)]
            }
            return value.count * 2
        })
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Most values need no escaping: those are appended whole, the rest byte by byte (the
    /// four escaped characters are ASCII, so UTF-8 sequences pass through untouched).
    private static func escape(_ value: String, into line: inout String) {
        let needsEscape = value.utf8.contains { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
        guard needsEscape else { return line.append(value) }
        var escaped: [UInt8] = []
        escaped.reserveCapacity(value.utf8.count + 8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): escaped += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case UInt8(ascii: "\t"): escaped += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case UInt8(ascii: "\n"): escaped += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): escaped += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            default: escaped.append(byte)
            }
        }
        line.append(String(decoding: escaped, as: UTF8.self))
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
