/// Byte classes shared by the request parsers. Everything in the canonical request is decided
/// on bytes, never on `Character`s, so Unicode equivalence can never make two different wire
/// forms compare equal.
public enum ASCII {
    public static let slash = UInt8(ascii: "/")
    public static let backslash = UInt8(ascii: "\\")
    public static let percent = UInt8(ascii: "%")
    public static let dot = UInt8(ascii: ".")
    public static let questionMark = UInt8(ascii: "?")
    public static let hash = UInt8(ascii: "#")
    public static let semicolon = UInt8(ascii: ";")
    public static let colon = UInt8(ascii: ":")
    public static let comma = UInt8(ascii: ",")
    public static let equals = UInt8(ascii: "=")
    public static let hyphen = UInt8(ascii: "-")
    public static let underscore = UInt8(ascii: "_")
    public static let space = UInt8(ascii: " ")
    public static let tab = UInt8(ascii: "\t")
    public static let asterisk = UInt8(ascii: "*")
    public static let openBracket = UInt8(ascii: "[")
    public static let closeBracket = UInt8(ascii: "]")

    /// `0x21...0x7E`: what a request target, a redirect target or a host may contain raw.
    public static func isVisible(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte)
    }

    /// C0 controls and DEL. HTAB is reported separately by callers that allow it.
    public static func isControl(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F
    }

    public static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    public static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    public static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 0x20 : byte
    }

    /// The value of a hexadecimal digit, or nil.
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Decodes the `%XX` escape whose `%` is at `index`, or returns nil when it is truncated or
    /// not hexadecimal.
    public static func percentEscape(in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> UInt8? {
        guard index + 2 < bytes.count,
            let high = hexValue(bytes[index + 1]),
            let low = hexValue(bytes[index + 2])
        else { return nil }
        return high << 4 | low
    }

    /// Whether the bytes form valid UTF-8 (no overlong forms, surrogates or truncated sequences).
    public static func isValidUTF8(_ bytes: some Sequence<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

/// Client-supplied text inside a message that ends up in a 400 body and in the audit log:
/// truncated and reduced to printable ASCII, so a request cannot forge log lines or JSON.
public func quotedForLog(_ text: some StringProtocol, limit: Int = 64) -> String {
    var result = "'"
    for scalar in text.unicodeScalars.prefix(limit) {
        result.unicodeScalars.append((0x20...0x7E).contains(scalar.value) && scalar != "'" ? scalar : "?")
    }
    if !text.unicodeScalars.dropFirst(limit).isEmpty {
        result += "..."
    }
    return result + "'"
}
