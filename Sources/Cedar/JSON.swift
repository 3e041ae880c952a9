/// A minimal JSON reader for entity, request and context input.
///
/// Written here rather than using Foundation so that duplicate keys are rejected, integers and
/// floats are told apart exactly, strings keep their exact scalars, and nesting is bounded.
indirect enum JSON: Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    /// A number that is not an i64 integer (fraction, exponent or out of range), kept as text.
    case otherNumber(String)
    case string(String)
    case array([JSON])
    case object([(key: String, value: JSON)])

    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .integer: return "integer"
        case .otherNumber: return "non-integer number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    subscript(key: String) -> JSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { CedarString($0.key) == CedarString(key) }?.value
    }

    /// serde_json, which the reference engine uses, rejects 128 levels and more.
    static let maxDepth = 127

    static func parse(_ bytes: [UInt8]) -> Result<JSON, InputError> {
        var reader = JSONReader(bytes: bytes)
        do throws(InputError) {
            reader.skipWhitespace()
            let v = try reader.value(depth: 0)
            reader.skipWhitespace()
            guard reader.i == bytes.count else { throw reader.error("unexpected data after the JSON value") }
            return .success(v)
        } catch {
            return .failure(error)
        }
    }

    static func parse(_ text: String) -> Result<JSON, InputError> { parse(Array(text.utf8)) }
}

private struct JSONReader {
    let bytes: [UInt8]
    var i = 0

    func error(_ message: String) -> InputError {
        var line = 1
        var col = 1
        for b in bytes[..<min(i, bytes.count)] {
            if b == 10 {
                line += 1
                col = 1
            } else if b & 0xC0 != 0x80 {
                col += 1
            }
        }
        return InputError("line \(line), column \(col)", message)
    }

    mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 }
    }

    mutating func literal(_ word: String, _ v: JSON) throws(InputError) -> JSON {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw error("invalid JSON literal") }
        i += w.count
        return v
    }

    mutating func value(depth: Int) throws(InputError) -> JSON {
        guard depth < JSON.maxDepth else { throw error("JSON nested deeper than \(JSON.maxDepth) levels") }
        guard i < bytes.count else { throw error("unexpected end of JSON input, expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var pairs: [(key: String, value: JSON)] = []
            var seen = Set<CedarString>()
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                i += 1
                return .object(pairs)
            }
            while true {
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try string()
                guard seen.insert(CedarString(key)).inserted else { throw error("duplicate key `\(key)` in JSON object") }
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected `:` after the key") }
                i += 1
                skipWhitespace()
                pairs.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                guard i < bytes.count else { throw error("unexpected end of JSON input in object") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(pairs)
                }
                throw error("expected `,` or `}` in object")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSON] = []
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard i < bytes.count else { throw error("unexpected end of JSON input in array") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                if bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(items)
                }
                throw error("expected `,` or `]` in array")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), 48...57:
            return try number()
        default:
            throw error("expected a JSON value")
        }
    }

    mutating func number() throws(InputError) -> JSON {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        let intStart = i
        while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        guard i > intStart else { throw error("invalid number") }
        if i - intStart > 1, bytes[intStart] == 48 { throw error("invalid number: leading zero") }
        var isInteger = true
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            let s = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > s else { throw error("invalid number: digits expected after `.`") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let s = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > s else { throw error("invalid number: digits expected in exponent") }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        // serde_json reads `-0` as a float, so Cedar rejects it like any other non-integer.
        if isInteger, text != "-0", let v = Int64(text) { return .integer(v) }
        return .otherNumber(text)
    }

    mutating func hex4() throws(InputError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("invalid \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 97...102: d = UInt32(c - 87)
            case 65...70: d = UInt32(c - 55)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func string() throws(InputError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 { i += 1 }
        if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            return try validUTF8(bytes[start..<i])
        }
        var out = Array(bytes[start..<i])
        while true {
            guard i < bytes.count else { throw error("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                break
            }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { throw error("unterminated string") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(e)
            case UInt8(ascii: "\\"): out.append(e)
            case UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800...0xDBFF).contains(code) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate in \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    throw error("unpaired surrogate in \\u escape")
                }
                out.append(contentsOf: Array(String(Unicode.Scalar(code)!).utf8))
            default:
                throw error("invalid escape in string")
            }
        }
        return try validUTF8(out[...])
    }

    func validUTF8(_ b: ArraySlice<UInt8>) throws(InputError) -> String {
        guard let s = String(validating: b, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
        return s
    }
}

/// Writes a JSON string literal (used for CLI output).
public func jsonQuoted(_ s: String) -> String {
    var out = "\""
    out.reserveCapacity(s.utf8.count + 2)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let h = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// Splits JSON Lines text into records. Records end only at "\n" (a "\r" before it is dropped):
/// U+2028, U+0085 and the like are legal inside JSON strings. Blank lines are skipped.
public func jsonLines(_ text: String) -> [String] {
    text.utf8.split(separator: UInt8(ascii: "\n")).compactMap { line in
        let record = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
        if record.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { return nil }
        return String(decoding: record, as: UTF8.self)
    }
}
