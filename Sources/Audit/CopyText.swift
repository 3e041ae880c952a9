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
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { literal.append("\\") }
                literal.unicodeScalars.append(character)
            }
            literal.append("\"")
        }
        literal.append("}")
        text(literal)
    }

    /// A `bytea` in hex form (`\x0a1b…`).
    mutating func bytes(_ value: [UInt8]) {
        text("\\x" + value.map { String($0, radix: 16).leftPadded(to: 2) }.joined())
    }

    private static func escape(_ value: String, into line: inout String) {
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": line.append("\\\\")
            case "\t": line.append("\\t")
            case "\n": line.append("\\n")
            case "\r": line.append("\\r")
            default: line.unicodeScalars.append(scalar)
            }
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
