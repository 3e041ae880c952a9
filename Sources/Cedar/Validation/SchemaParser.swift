/// Tokens of the Cedar schema syntax (cedar-docs `_schema/human-readable-schema-grammar.md`).
private enum SchemaToken: Equatable {
    case identifier(String)
    /// Raw text between the quotes; escapes are interpreted by the parser.
    case string(ArraySlice<UInt8>)
    case at, lparen, rparen, lbrace, rbrace, lbracket, rbracket, less, greater
    case comma, semicolon, colon, doubleColon, question, assign
    case eof

    var display: String {
        switch self {
        case .identifier(let s): return "`\(s)`"
        case .string: return "string literal"
        case .at: return "`@`"
        case .lparen: return "`(`"
        case .rparen: return "`)`"
        case .lbrace: return "`{`"
        case .rbrace: return "`}`"
        case .lbracket: return "`[`"
        case .rbracket: return "`]`"
        case .less: return "`<`"
        case .greater: return "`>`"
        case .comma: return "`,`"
        case .semicolon: return "`;`"
        case .colon: return "`:`"
        case .doubleColon: return "`::`"
        case .question: return "`?`"
        case .assign: return "`=`"
        case .eof: return "end of input"
        }
    }
}

private struct LocatedToken {
    let token: SchemaToken
    let location: SourceLocation
}

/// Splits schema text into tokens; columns count Unicode scalars, like the policy lexer.
private func tokenizeSchema(_ text: String, file: String) throws(SchemaError) -> [LocatedToken] {
    let bytes = Array(text.utf8)
    var tokens: [LocatedToken] = []
    var i = 0
    var line = 1
    var lineStart = 0
    func location(_ offset: Int) -> SourceLocation {
        var col = 1
        for k in lineStart..<offset where bytes[k] & 0xC0 != 0x80 { col += 1 }
        return SourceLocation(file: file, line: line, column: col)
    }
    func isIdentStart(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 }
    func isIdentContinue(_ c: UInt8) -> Bool { isIdentStart(c) || (c >= 48 && c <= 57) }
    while true {
        // Whitespace and `//` comments.
        while i < bytes.count {
            if bytes[i] == 10 {
                line += 1
                lineStart = i + 1
                i += 1
            } else if bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 13 {
                i += 1
            } else if bytes[i] == UInt8(ascii: "/"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "/") {
                while i < bytes.count, bytes[i] != 10 { i += 1 }
            } else {
                break
            }
        }
        let start = i
        guard i < bytes.count else {
            tokens.append(LocatedToken(token: .eof, location: location(i)))
            return tokens
        }
        let here = location(start)
        let c = bytes[i]
        i += 1
        let token: SchemaToken
        switch c {
        case _ where isIdentStart(c):
            while i < bytes.count, isIdentContinue(bytes[i]) { i += 1 }
            token = .identifier(String(decoding: bytes[start..<i], as: UTF8.self))
        case UInt8(ascii: "\""):
            let contentStart = i
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") { i += 1 }
                if i < bytes.count, bytes[i] == 10 {
                    line += 1
                    lineStart = i + 1
                }
                i += 1
            }
            guard i < bytes.count else { throw SchemaError(here, "unterminated string literal, expected a closing `\"`") }
            i += 1
            token = .string(bytes[contentStart..<(i - 1)])
        case UInt8(ascii: "@"): token = .at
        case UInt8(ascii: "("): token = .lparen
        case UInt8(ascii: ")"): token = .rparen
        case UInt8(ascii: "{"): token = .lbrace
        case UInt8(ascii: "}"): token = .rbrace
        case UInt8(ascii: "["): token = .lbracket
        case UInt8(ascii: "]"): token = .rbracket
        case UInt8(ascii: "<"): token = .less
        case UInt8(ascii: ">"): token = .greater
        case UInt8(ascii: ","): token = .comma
        case UInt8(ascii: ";"): token = .semicolon
        case UInt8(ascii: "?"): token = .question
        case UInt8(ascii: "="): token = .assign
        case UInt8(ascii: ":"):
            if i < bytes.count, bytes[i] == UInt8(ascii: ":") {
                i += 1
                token = .doubleColon
            } else {
                token = .colon
            }
        default:
            var end = i
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            throw SchemaError(here, "invalid token `\(String(decoding: bytes[start..<end], as: UTF8.self))`")
        }
        tokens.append(LocatedToken(token: token, location: here))
    }
}

/// Recursive-descent parser for Cedar schema syntax; produces declarations for `SchemaResolver`.
struct SchemaParser {
    private let tokens: [LocatedToken]
    private var p = 0
    private var depth = 0
    /// Bounds type nesting so hostile input cannot exhaust the stack.
    static let maxDepth = 200

    /// Words the policy language reserves; they cannot name a type, namespace or attribute path.
    private static let reserved: Set<String> = ["true", "false", "if", "then", "else", "in", "like", "has", "is", "__cedar"]

    init(text: String, file: String) throws(SchemaError) {
        tokens = try tokenizeSchema(text, file: file)
    }

    private var token: SchemaToken { tokens[p].token }
    private var here: SourceLocation { tokens[p].location }
    private mutating func advance() { if p < tokens.count - 1 { p += 1 } }

    private func expected(_ what: String) -> SchemaError {
        SchemaError(here, "expected \(what), found \(token.display)")
    }

    private mutating func expect(_ t: SchemaToken, _ what: String) throws(SchemaError) {
        guard token == t else { throw expected(what) }
        advance()
    }

    private func isKeyword(_ word: String) -> Bool { token == .identifier(word) }

    /// Every namespace block, plus one empty-namespace block per top-level declaration.
    mutating func schema() throws(SchemaError) -> [WrittenNamespace] {
        var namespaces: [WrittenNamespace] = []
        while token != .eof {
            try annotations()
            let start = here
            if isKeyword("namespace") {
                advance()
                let name = try path(what: "a namespace name")
                try expect(.lbrace, "`{` after the namespace name")
                var ns = WrittenNamespace(name: name.components, location: start)
                while token != .rbrace {
                    guard token != .eof else { throw expected("`}` to close the namespace") }
                    try annotations()
                    try declaration(into: &ns)
                }
                advance()
                namespaces.append(ns)
            } else {
                var ns = WrittenNamespace(name: [], location: start)
                try declaration(into: &ns)
                namespaces.append(ns)
            }
        }
        return namespaces
    }

    /// Annotations are accepted and dropped: they carry no meaning for validation.
    private mutating func annotations() throws(SchemaError) {
        while token == .at {
            advance()
            guard case .identifier = token else { throw expected("an annotation name after `@`") }
            advance()
            if token == .lparen {
                advance()
                _ = try string(what: "a string literal as the annotation value")
                try expect(.rparen, "`)` after the annotation value")
            }
        }
    }

    private mutating func declaration(into ns: inout WrittenNamespace) throws(SchemaError) {
        let start = here
        if isKeyword("entity") {
            advance()
            let names = try identifierList()
            if isKeyword("enum") {
                advance()
                try expect(.lbracket, "`[` after `enum`")
                var choices: [CedarString] = []
                repeat {
                    if token == .comma { advance() }
                    choices.append(CedarString(try string(what: "a string literal in the enumeration")))
                } while token == .comma
                try expect(.rbracket, "`,` or `]` to close the enumeration")
                try expect(.semicolon, "`;` after the entity declaration")
                for n in names {
                    ns.entities.append(WrittenEntity(name: n, location: start, memberOf: [], attributes: [], tags: nil, enumeration: choices))
                }
                return
            }
            var parents: [WrittenName] = []
            if isKeyword("in") {
                advance()
                parents = try typeNames()
            }
            var attributes: [WrittenAttribute] = []
            if token == .assign {
                advance()
                guard token == .lbrace else { throw expected("`{` to start the attribute declarations") }
            }
            if token == .lbrace { attributes = try recordBody() }
            var tags: WrittenType?
            if isKeyword("tags") {
                advance()
                tags = try type()
            }
            try expect(.semicolon, "`;` after the entity declaration")
            for n in names {
                ns.entities.append(WrittenEntity(name: n, location: start, memberOf: parents, attributes: attributes, tags: tags, enumeration: nil))
            }
        } else if isKeyword("action") {
            advance()
            var names: [CedarString] = []
            repeat {
                if token == .comma { advance() }
                names.append(try name(what: "an action name (identifier or string)"))
            } while token == .comma
            var parents: [WrittenActionReference] = []
            if isKeyword("in") {
                advance()
                if token == .lbracket {
                    advance()
                    while token != .rbracket {
                        parents.append(try actionReference())
                        if token == .comma { advance() } else { break }
                    }
                    try expect(.rbracket, "`,` or `]` to close the action group list")
                } else {
                    parents.append(try actionReference())
                }
            }
            var appliesTo: WrittenAppliesTo?
            if isKeyword("appliesTo") {
                advance()
                appliesTo = try appliesToBody()
            }
            if isKeyword("attributes") {
                advance()
                try expect(.lbrace, "`{` after `attributes`")
                try expect(.rbrace, "`}`: actions cannot have attributes")
            }
            try expect(.semicolon, "`;` after the action declaration")
            for n in names {
                ns.actions.append(WrittenAction(name: n, location: start, memberOf: parents, appliesTo: appliesTo))
            }
        } else if isKeyword("type") {
            advance()
            guard case .identifier(let n) = token else { throw expected("a common type name after `type`") }
            if Self.reserved.contains(n) { throw SchemaError(here, "`\(n)` is reserved and cannot name a common type") }
            advance()
            try expect(.assign, "`=` after the common type name")
            let t = try type()
            try expect(.semicolon, "`;` after the common type declaration")
            ns.commonTypes.append(WrittenCommonType(name: n, location: start, type: t))
        } else if isKeyword("namespace") {
            throw SchemaError(here, "namespaces cannot be nested")
        } else {
            throw expected("`entity`, `action`, `type` or `namespace`")
        }
    }

    private mutating func appliesToBody() throws(SchemaError) -> WrittenAppliesTo {
        try expect(.lbrace, "`{` after `appliesTo`")
        var principals: [WrittenName]?
        var resources: [WrittenName]?
        var context: WrittenType?
        var seenContext = false
        while token != .rbrace {
            let at = here
            guard case .identifier(let key) = token, ["principal", "resource", "context"].contains(key) else {
                throw expected("`principal`, `resource` or `context`")
            }
            advance()
            try expect(.colon, "`:` after `\(key)`")
            switch key {
            case "principal", "resource":
                guard (key == "principal" ? principals : resources) == nil else { throw SchemaError(at, "duplicate `\(key)` declaration") }
                let types = try typeNames()
                // The JSON format may list no types; Cedar syntax requires at least one.
                if types.isEmpty { throw SchemaError(at, "`\(key)` is `[]`, which is invalid: list at least one entity type") }
                if key == "principal" { principals = types } else { resources = types }
            default:
                guard !seenContext else { throw SchemaError(at, "duplicate `context` declaration") }
                seenContext = true
                context = token == .lbrace ? .record(try recordBody()) : .name(try path(what: "a record type or common type name"))
            }
            if token == .comma { advance() } else { break }
        }
        let end = here
        try expect(.rbrace, "`,` or `}` in `appliesTo`")
        guard let principals else { throw SchemaError(end, "`appliesTo` must declare `principal`") }
        guard let resources else { throw SchemaError(end, "`appliesTo` must declare `resource`") }
        return WrittenAppliesTo(principals: principals, resources: resources, context: context)
    }

    /// `Path` or `[Path, …]`.
    private mutating func typeNames() throws(SchemaError) -> [WrittenName] {
        guard token == .lbracket else { return [try path(what: "an entity type name")] }
        advance()
        var names: [WrittenName] = []
        while token != .rbracket {
            names.append(try path(what: "an entity type name"))
            if token == .comma { advance() } else { break }
        }
        try expect(.rbracket, "`,` or `]` to close the entity type list")
        return names
    }

    /// `"name"`, `name`, or `Path::"name"`.
    private mutating func actionReference() throws(SchemaError) -> WrittenActionReference {
        let start = here
        if case .string = token {
            return WrittenActionReference(type: nil, id: CedarString(try string(what: "an action name")), location: start)
        }
        var components: [String] = []
        while case .identifier(let n) = token {
            components.append(n)
            advance()
            guard token == .doubleColon else {
                guard components.count == 1 else { throw expected("`::` and a quoted action name") }
                return WrittenActionReference(type: nil, id: CedarString(n), location: start)
            }
            advance()
            if case .string = token {
                let id = try string(what: "an action name")
                return WrittenActionReference(type: WrittenName(components: components, location: start), id: CedarString(id), location: start)
            }
        }
        throw expected("an action name or `Namespace::Action::\"name\"`")
    }

    private mutating func type() throws(SchemaError) -> WrittenType {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw SchemaError(here, "type nested too deeply (limit \(Self.maxDepth))") }
        if token == .lbrace { return .record(try recordBody()) }
        if isKeyword("Set"), tokens[min(p + 1, tokens.count - 1)].token == .less {
            advance()
            advance()
            let element = try type()
            try expect(.greater, "`>` to close `Set<`")
            return .set(element)
        }
        return .name(try path(what: "a type"))
    }

    /// `{ name?: Type, … }` with optional annotations on each attribute.
    private mutating func recordBody() throws(SchemaError) -> [WrittenAttribute] {
        try expect(.lbrace, "`{`")
        var attributes: [WrittenAttribute] = []
        while token != .rbrace {
            try annotations()
            let start = here
            let n = try name(what: "an attribute name (identifier or string)")
            var required = true
            if token == .question {
                required = false
                advance()
            }
            try expect(.colon, "`:` after the attribute name")
            attributes.append(WrittenAttribute(name: n, type: try type(), required: required, location: start))
            if token == .comma { advance() } else { break }
        }
        try expect(.rbrace, "`,` or `}` in the record type")
        return attributes
    }

    private mutating func identifierList() throws(SchemaError) -> [String] {
        var names: [String] = []
        repeat {
            if token == .comma { advance() }
            guard case .identifier(let n) = token else { throw expected("an entity type name") }
            if Self.reserved.contains(n) { throw SchemaError(here, "`\(n)` is reserved and cannot name an entity type") }
            names.append(n)
            advance()
        } while token == .comma
        return names
    }

    private mutating func path(what: String) throws(SchemaError) -> WrittenName {
        let start = here
        var components: [String] = []
        repeat {
            if token == .doubleColon { advance() }
            guard case .identifier(let n) = token else { throw expected(what) }
            if Self.reserved.contains(n) && n != "__cedar" { throw SchemaError(here, "`\(n)` is reserved and cannot be used in a name") }
            components.append(n)
            advance()
        } while token == .doubleColon
        return WrittenName(components: components, location: start)
    }

    /// A non-reserved identifier or a string literal (attribute and action names).
    private mutating func name(what: String) throws(SchemaError) -> CedarString {
        if case .identifier(let n) = token {
            if Self.reserved.contains(n) { throw SchemaError(here, "`\(n)` is a reserved identifier; quote it to use it as a name") }
            advance()
            return CedarString(n)
        }
        return CedarString(try string(what: what))
    }

    private mutating func string(what: String) throws(SchemaError) -> String {
        guard case .string(let raw) = token else { throw expected(what) }
        let at = here
        advance()
        switch Unescaper.string(raw) {
        case .success(let s): return s
        case .failure(let bad): throw SchemaError(at, "the input `\(bad.text)` is not a valid escape")
        }
    }
}
