/// Token kinds of the Cedar policy language.
enum TokenKind: Equatable, Sendable {
    case identifier(String)
    /// Digits only; the sign is a separate token so `-` can be folded by the parser.
    case number(String)
    /// The raw text between the quotes, escapes not yet interpreted (patterns read `\*` differently).
    case string(ArraySlice<UInt8>)
    case slot(String)
    case at, lparen, rparen, lbracket, rbracket, lbrace, rbrace
    case comma, semicolon, colon, doubleColon, dot
    case bang, minus, plus, star, slash, percent
    case less, lessEqual, greater, greaterEqual, equalEqual, notEqual, assign
    case and, or
    case eof

    var display: String {
        switch self {
        case .identifier(let s): return "`\(s)`"
        case .number(let s): return "`\(s)`"
        case .string: return "string literal"
        case .slot(let s): return "`?\(s)`"
        case .at: return "`@`"
        case .lparen: return "`(`"
        case .rparen: return "`)`"
        case .lbracket: return "`[`"
        case .rbracket: return "`]`"
        case .lbrace: return "`{`"
        case .rbrace: return "`}`"
        case .comma: return "`,`"
        case .semicolon: return "`;`"
        case .colon: return "`:`"
        case .doubleColon: return "`::`"
        case .dot: return "`.`"
        case .bang: return "`!`"
        case .minus: return "`-`"
        case .plus: return "`+`"
        case .star: return "`*`"
        case .slash: return "`/`"
        case .percent: return "`%`"
        case .less: return "`<`"
        case .lessEqual: return "`<=`"
        case .greater: return "`>`"
        case .greaterEqual: return "`>=`"
        case .equalEqual: return "`==`"
        case .notEqual: return "`!=`"
        case .assign: return "`=`"
        case .and: return "`&&`"
        case .or: return "`||`"
        case .eof: return "end of input"
        }
    }
}

struct Token: Sendable {
    let kind: TokenKind
    let line: Int
    let column: Int
}

/// A `//` comment, kept so the formatter can reprint it.
struct Comment: Sendable {
    /// The text after `//`, without the line end.
    let text: String
    let line: Int
    let column: Int
}

/// Splits policy text into tokens. Works on UTF-8 bytes; columns count Unicode scalars.
struct Lexer {
    private let bytes: [UInt8]
    private let file: String
    private var i = 0
    private var line = 1
    /// Comments in source order, filled by `tokenize`.
    private(set) var comments: [Comment] = []
    private var lineStart = 0

    init(_ text: String, file: String) {
        self.bytes = Array(text.utf8)
        self.file = file
    }

    /// Memo of the last column computed, so long lines cost linear time overall.
    private var columnMemo = (offset: 0, column: 1)

    private mutating func column(at offset: Int) -> Int {
        var (k, col) = columnMemo.offset >= lineStart && columnMemo.offset <= offset ? columnMemo : (lineStart, 1)
        while k < offset {
            if bytes[k] & 0xC0 != 0x80 { col += 1 }
            k += 1
        }
        columnMemo = (offset, col)
        return col
    }

    private mutating func location(_ offset: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column(at: offset))
    }

    mutating func tokenize() throws(ParseError) -> [Token] {
        var tokens: [Token] = []
        tokens.reserveCapacity(bytes.count / 3)
        while true {
            skipTrivia()
            let start = i
            let col = column(at: start)
            let startLine = line
            guard i < bytes.count else {
                tokens.append(Token(kind: .eof, line: line, column: col))
                return tokens
            }
            let kind = try next()
            tokens.append(Token(kind: kind, line: startLine, column: col))
        }
    }

    private mutating func newline(at offset: Int) {
        line += 1
        lineStart = offset + 1
    }

    private mutating func skipTrivia() {
        while i < bytes.count {
            let c = bytes[i]
            if c == 10 {
                newline(at: i)
                i += 1
            } else if c == 32 || c == 9 || c == 13 {
                i += 1
            } else if c == UInt8(ascii: "/"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "/") {
                let start = i
                while i < bytes.count, bytes[i] != 10 { i += 1 }
                var end = i
                if end > start + 2, bytes[end - 1] == 13 { end -= 1 }
                comments.append(
                    Comment(
                        text: String(decoding: bytes[(start + 2)..<end], as: UTF8.self),
                        line: line, column: column(at: start)))
            } else {
                return
            }
        }
    }

    private static func isIdentStart(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95
    }

    private static func isIdentContinue(_ c: UInt8) -> Bool {
        isIdentStart(c) || (c >= 48 && c <= 57)
    }

    private mutating func next() throws(ParseError) -> TokenKind {
        let start = i
        let c = bytes[i]
        i += 1
        func peek(_ ch: Character) -> Bool { i < bytes.count && bytes[i] == ch.asciiValue! }
        switch c {
        case _ where Self.isIdentStart(c):
            while i < bytes.count, Self.isIdentContinue(bytes[i]) { i += 1 }
            return .identifier(String(decoding: bytes[start..<i], as: UTF8.self))
        case 48...57:
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            if i < bytes.count, Self.isIdentStart(bytes[i]) {
                throw ParseError(location(start), "invalid token: a number must not be followed by a letter")
            }
            return .number(String(decoding: bytes[start..<i], as: UTF8.self))
        case UInt8(ascii: "\""):
            let contentStart = i
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                if i < bytes.count, bytes[i] == 10 { newline(at: i) }
                i += 1
            }
            guard i < bytes.count else {
                throw ParseError(location(start), "invalid token: unterminated string literal, expected a closing `\"`")
            }
            i += 1
            return .string(bytes[contentStart..<(i - 1)])
        case UInt8(ascii: "?"):
            let s = i
            while i < bytes.count, Self.isIdentContinue(bytes[i]) { i += 1 }
            let name = String(decoding: bytes[s..<i], as: UTF8.self)
            guard name == "principal" || name == "resource" else {
                throw ParseError(location(start), "invalid slot `?\(name)`: expected `?principal` or `?resource`")
            }
            return .slot(name)
        case UInt8(ascii: "@"): return .at
        case UInt8(ascii: "("): return .lparen
        case UInt8(ascii: ")"): return .rparen
        case UInt8(ascii: "["): return .lbracket
        case UInt8(ascii: "]"): return .rbracket
        case UInt8(ascii: "{"): return .lbrace
        case UInt8(ascii: "}"): return .rbrace
        case UInt8(ascii: ","): return .comma
        case UInt8(ascii: ";"): return .semicolon
        case UInt8(ascii: "."): return .dot
        case UInt8(ascii: "+"): return .plus
        case UInt8(ascii: "-"): return .minus
        case UInt8(ascii: "*"): return .star
        case UInt8(ascii: "/"): return .slash
        case UInt8(ascii: "%"): return .percent
        case UInt8(ascii: ":"):
            if peek(":") {
                i += 1
                return .doubleColon
            }
            return .colon
        case UInt8(ascii: "!"):
            if peek("=") {
                i += 1
                return .notEqual
            }
            return .bang
        case UInt8(ascii: "<"):
            if peek("=") {
                i += 1
                return .lessEqual
            }
            return .less
        case UInt8(ascii: ">"):
            if peek("=") {
                i += 1
                return .greaterEqual
            }
            return .greater
        case UInt8(ascii: "="):
            if peek("=") {
                i += 1
                return .equalEqual
            }
            return .assign
        case UInt8(ascii: "&"):
            if peek("&") {
                i += 1
                return .and
            }
            throw ParseError(location(start), "invalid token `&`: expected `&&`")
        case UInt8(ascii: "|"):
            if peek("|") {
                i += 1
                return .or
            }
            throw ParseError(location(start), "invalid token `|`: expected `||`")
        default:
            var end = i
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            let text = String(decoding: bytes[start..<end], as: UTF8.self)
            throw ParseError(location(start), "invalid token `\(text)`")
        }
    }
}

/// The escape sequence that could not be interpreted.
struct InvalidEscape: Error {
    let text: String
}

/// Interprets Rust-style string escapes (Cedar `unescape.rs`). With `pattern`, `\*` yields a
/// literal star and unescaped `*` a wildcard.
enum Unescaper {
    enum Piece {
        case scalar(Unicode.Scalar)
        case wildcard
    }

    static func unescape(_ raw: ArraySlice<UInt8>, pattern: Bool) -> Result<[Piece], InvalidEscape> {
        var out: [Piece] = []
        out.reserveCapacity(raw.count)
        // Decode to scalars first; the raw text is valid UTF-8 because it came from a Swift String.
        let scalars = Array(String(decoding: raw, as: UTF8.self).unicodeScalars)
        var k = 0
        func hexValue(_ s: Unicode.Scalar) -> UInt32? {
            switch s.value {
            case 48...57: return s.value - 48
            case 97...102: return s.value - 87
            case 65...70: return s.value - 55
            default: return nil
            }
        }
        while k < scalars.count {
            let s = scalars[k]
            if s == "*" && pattern {
                out.append(.wildcard)
                k += 1
                continue
            }
            guard s == "\\" else {
                out.append(.scalar(s))
                k += 1
                continue
            }
            guard k + 1 < scalars.count else { return .failure(InvalidEscape(text: "\\")) }
            let e = scalars[k + 1]
            k += 2
            switch e {
            case "n": out.append(.scalar("\n"))
            case "r": out.append(.scalar("\r"))
            case "t": out.append(.scalar("\t"))
            case "\\": out.append(.scalar("\\"))
            case "0": out.append(.scalar("\0"))
            case "'": out.append(.scalar("'"))
            case "\"": out.append(.scalar("\""))
            case "*" where pattern: out.append(.scalar("*"))
            case "\n":
                while k < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[k]) { k += 1 }
            case "x":
                guard k + 1 < scalars.count, let h = hexValue(scalars[k]), let l = hexValue(scalars[k + 1]), h <= 7 else {
                    let end = min(k + 2, scalars.count)
                    return .failure(InvalidEscape(text: "\\x" + String(String.UnicodeScalarView(scalars[k..<end]))))
                }
                out.append(patternPiece(Unicode.Scalar(h << 4 | l)!, pattern: pattern))
                k += 2
            case "u":
                var text = "\\u"
                guard k < scalars.count, scalars[k] == "{" else { return .failure(InvalidEscape(text: text)) }
                text += "{"
                k += 1
                var value: UInt32 = 0
                var digits = 0
                while k < scalars.count, scalars[k] != "}" {
                    text.unicodeScalars.append(scalars[k])
                    if scalars[k] == "_" && digits > 0 {
                        k += 1
                        continue
                    }
                    guard let h = hexValue(scalars[k]), digits < 6 else { return .failure(InvalidEscape(text: text)) }
                    value = value << 4 | h
                    digits += 1
                    k += 1
                }
                guard k < scalars.count, digits > 0 else { return .failure(InvalidEscape(text: text)) }
                text += "}"
                k += 1
                guard let scalar = Unicode.Scalar(value) else { return .failure(InvalidEscape(text: text)) }
                out.append(patternPiece(scalar, pattern: pattern))
            default:
                return .failure(InvalidEscape(text: "\\" + String(e)))
            }
        }
        return .success(out)
    }

    /// Cedar unescapes a pattern before finding its wildcards, so a star spelled `\x2A` or
    /// `\u{2a}` is a wildcard too; only the two-character escape `\*` is a literal star.
    private static func patternPiece(_ s: Unicode.Scalar, pattern: Bool) -> Piece {
        pattern && s == "*" ? .wildcard : .scalar(s)
    }

    static func string(_ raw: ArraySlice<UInt8>) -> Result<String, InvalidEscape> {
        // Fast path: no escapes at all.
        if !raw.contains(UInt8(ascii: "\\")) { return .success(String(decoding: raw, as: UTF8.self)) }
        return unescape(raw, pattern: false).map { pieces in
            var s = String.UnicodeScalarView()
            for case .scalar(let c) in pieces { s.append(c) }
            return String(s)
        }
    }
}
