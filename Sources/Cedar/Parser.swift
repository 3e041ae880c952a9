/// Recursive-descent parser for Cedar policy text (grammar: cedar.md §1, Cedar 4.x).
///
/// Nesting is bounded (`maxDepth`) so hostile input cannot exhaust the stack; the bound
/// also caps the depth of the resulting tree, which the evaluator and printer recurse over.
struct Parser {
    /// Bound on nesting (parentheses, sets, records, `if`, arguments, postfix accesses), which
    /// bounds parser recursion and the depth of the tree the evaluator and printer recurse over.
    /// Flat `&&`, `||`, `+`, `*` chains are n-ary nodes and do not count.
    static let maxDepth = 200

    private let tokens: [Token]
    private let file: String
    private var p = 0
    private var depth = 0
    /// Start of every expression node built so far, in construction (post-)order; see `Condition.locations`.
    private var nodeStarts: [SourceLocation] = []

    static let reserved: Set<String> = ["true", "false", "if", "then", "else", "in", "like", "has", "is", "__cedar"]

    /// `//` comments of the source, in order (for the formatter).
    let comments: [Comment]

    init(text: String, file: String) throws(ParseError) {
        var lexer = Lexer(text, file: file)
        self.tokens = try lexer.tokenize()
        self.comments = lexer.comments
        self.file = file
    }

    // MARK: - Token helpers

    private var current: Token { tokens[p] }
    private var kind: TokenKind { tokens[p].kind }

    private func peekKind(_ offset: Int = 1) -> TokenKind {
        tokens[min(p + offset, tokens.count - 1)].kind
    }

    private func location(_ t: Token) -> SourceLocation {
        SourceLocation(file: file, line: t.line, column: t.column)
    }

    private func error(_ message: String, at t: Token? = nil) -> ParseError {
        ParseError(location(t ?? current), message)
    }

    private func expected(_ what: String) -> ParseError {
        error("expected \(what), found \(kind.display)")
    }

    private mutating func advance() { if p < tokens.count - 1 { p += 1 } }

    /// Records where a freshly built node starts; every node is built through here.
    private mutating func node(_ e: Expr, _ start: Token) -> Expr {
        nodeStarts.append(location(start))
        return e
    }

    private mutating func expect(_ k: TokenKind, _ what: String) throws(ParseError) {
        guard kind == k else { throw expected(what) }
        advance()
    }

    private func isIdent(_ name: String) -> Bool {
        if case .identifier(name) = kind { return true }
        return false
    }

    private mutating func enter() throws(ParseError) {
        depth += 1
        if depth > Self.maxDepth { throw error("expression nested too deeply (limit \(Self.maxDepth))") }
    }

    private mutating func leave() { depth -= 1 }

    // MARK: - Policies

    var atEnd: Bool { kind == .eof }

    /// Parses every policy in the file; stops at the first error (the file is rejected whole).
    mutating func policies() throws(ParseError) -> [(Policy, SourceLocation)] {
        try policiesWithEnds().map { ($0.policy, $0.start) }
    }

    /// Policies with the positions of their first token and of their closing `;`.
    mutating func policiesWithEnds() throws(ParseError) -> [(policy: Policy, start: SourceLocation, end: SourceLocation)] {
        var out: [(policy: Policy, start: SourceLocation, end: SourceLocation)] = []
        while !atEnd {
            let start = location(current)
            let policy = try policy()
            out.append((policy, start, location(tokens[p - 1])))
        }
        return out
    }

    mutating func policy() throws(ParseError) -> Policy {
        var annotations: [Annotation] = []
        while kind == .at {
            advance()
            guard case .identifier(let key) = kind else { throw expected("an annotation name after `@`") }
            if annotations.contains(where: { $0.key == key }) {
                throw error("duplicate annotation `@\(key)`")
            }
            advance()
            var value = CedarString("")
            if kind == .lparen {
                advance()
                guard case .string(let raw) = kind else { throw expected("a string literal as the annotation value") }
                value = CedarString(try unescapeString(raw))
                advance()
                try expect(.rparen, "`)` after the annotation value")
            }
            annotations.append(Annotation(key: key, value: value))
        }
        let effect: Effect
        if isIdent("permit") {
            effect = .permit
        } else if isIdent("forbid") {
            effect = .forbid
        } else {
            throw expected("`permit` or `forbid`")
        }
        advance()
        try expect(.lparen, "`(` after the effect")
        guard isIdent("principal") else { throw expected("`principal` as the first scope variable") }
        advance()
        let principal = try entityConstraint(slot: .principal)
        try expect(.comma, "`,` after the principal constraint")
        guard isIdent("action") else { throw expected("`action` as the second scope variable") }
        advance()
        let action = try actionConstraint()
        try expect(.comma, "`,` after the action constraint")
        guard isIdent("resource") else { throw expected("`resource` as the third scope variable") }
        advance()
        let resource = try entityConstraint(slot: .resource)
        if kind == .comma { advance() }
        try expect(.rparen, "`)` to close the scope")
        var conditions: [Condition] = []
        while case .identifier(let word) = kind, word == "when" || word == "unless" {
            advance()
            try expect(.lbrace, "`{` after `\(word)`")
            if kind == .rbrace { throw error("expected an expression: an empty `\(word) {}` is not allowed") }
            let firstNode = nodeStarts.count
            let body = try expression()
            try expect(.rbrace, "`}` to close the `\(word)` condition")
            conditions.append(
                Condition(
                    kind: word == "when" ? .when : .unless, body: body,
                    locations: Array(nodeStarts[firstNode...])))
        }
        if case .identifier(let word) = kind {
            throw error("expected `when`, `unless` or `;`, found `\(word)`")
        }
        try expect(.semicolon, "`;` at the end of the policy")
        return Policy(
            annotations: annotations, effect: effect, principal: principal, action: action,
            resource: resource, conditions: conditions)
    }

    private mutating func entityReference(slot: Slot) throws(ParseError) -> EntityReference {
        if case .slot(let name) = kind {
            guard "?" + name == slot.rawValue else {
                throw error("expected \(slot.rawValue) here, found `?\(name)`")
            }
            advance()
            return .slot(slot)
        }
        return .uid(try entityUID())
    }

    private mutating func entityConstraint(slot: Slot) throws(ParseError) -> EntityConstraint {
        switch kind {
        case .equalEqual:
            advance()
            return .equal(try entityReference(slot: slot))
        case .identifier("in"):
            advance()
            if kind == .lbracket { throw error("expected an entity or \(slot.rawValue) after `in`: sets are only allowed for `action in`") }
            return .in(try entityReference(slot: slot))
        case .identifier("is"):
            advance()
            let type = try path()
            if isIdent("in") {
                advance()
                return .isTypeIn(type, try entityReference(slot: slot))
            }
            if kind == .equalEqual { throw error("`is` cannot be combined with `==`; use `is … in` or `==` alone") }
            return .isType(type)
        case .comma, .rparen:
            return .any
        case .colon:
            throw error(
                "expected `==`, `in`, `is`, `,` or `)`: the `\(slot == .principal ? "principal" : "resource"): Type` form is not supported, use `is`")
        default:
            throw expected("`==`, `in`, `is`, `,` or `)` in the scope")
        }
    }

    private mutating func actionConstraint() throws(ParseError) -> ActionConstraint {
        switch kind {
        case .equalEqual:
            advance()
            return .equal(try actionUID())
        case .identifier("in"):
            advance()
            if kind == .lbracket {
                advance()
                var list: [EntityUID] = []
                while kind != .rbracket {
                    list.append(try actionUID())
                    if kind == .comma { advance() } else { break }
                }
                try expect(.rbracket, "`]` to close the action list")
                return .inList(list)
            }
            return .in(try actionUID())
        case .identifier("is"):
            throw error("`is` is not allowed in the action scope")
        case .comma, .rparen:
            return .any
        default:
            throw expected("`==`, `in`, `,` or `)` in the action scope")
        }
    }

    private mutating func actionUID() throws(ParseError) -> EntityUID {
        let t = current
        let uid = try entityUID()
        guard uid.type.isActionType else {
            throw error("expected an entity uid with type `Action`, found `\(uid)`", at: t)
        }
        return uid
    }

    /// `Path::"id"` where the path has at least one component.
    private mutating func entityUID() throws(ParseError) -> EntityUID {
        var components: [String] = []
        while true {
            components.append(try identifier(what: "an entity type name"))
            try expect(.doubleColon, "`::` in an entity reference")
            if case .string(let raw) = kind {
                advance()
                return EntityUID(type: EntityType(components: components), id: CedarString(try unescapeString(raw)))
            }
        }
    }

    /// An entity type path `A::B::C` (used after `is`).
    private mutating func path() throws(ParseError) -> EntityType {
        var components = [try identifier(what: "an entity type name")]
        while kind == .doubleColon, case .identifier = peekKind() {
            advance()
            components.append(try identifier(what: "an entity type name"))
        }
        return EntityType(components: components)
    }

    /// A non-reserved identifier.
    private mutating func identifier(what: String) throws(ParseError) -> String {
        guard case .identifier(let name) = kind else { throw expected(what) }
        if Self.reserved.contains(name) { throw error("this identifier is reserved and cannot be used: \(name)") }
        advance()
        return name
    }

    private func unescapeString(_ raw: ArraySlice<UInt8>) throws(ParseError) -> String {
        switch Unescaper.string(raw) {
        case .success(let s): return s
        case .failure(let bad): throw error("the input `\(bad.text)` is not a valid escape")
        }
    }

    // MARK: - Expressions

    mutating func expression() throws(ParseError) -> Expr {
        try enter()
        defer { leave() }
        let start = current
        if isIdent("if") {
            advance()
            let c = try expression()
            guard isIdent("then") else { throw expected("`then`") }
            advance()
            let t = try expression()
            guard isIdent("else") else { throw expected("`else`") }
            advance()
            let e = try expression()
            return node(.ifThenElse(c, t, e), start)
        }
        var operands = [try conjunction()]
        while kind == .or {
            advance()
            operands.append(try conjunction())
        }
        return operands.count == 1 ? operands[0] : node(.or(operands), start)
    }

    private mutating func conjunction() throws(ParseError) -> Expr {
        let start = current
        var operands = [try relation()]
        while kind == .and {
            advance()
            operands.append(try relation())
        }
        return operands.count == 1 ? operands[0] : node(.and(operands), start)
    }

    private var isRelationStart: Bool {
        switch kind {
        case .equalEqual, .notEqual, .less, .lessEqual, .greater, .greaterEqual: return true
        case .identifier("in"), .identifier("has"), .identifier("like"), .identifier("is"): return true
        default: return false
        }
    }

    private mutating func relation() throws(ParseError) -> Expr {
        let start = current
        let lhs = try additive()
        let result: Expr
        switch kind {
        case .equalEqual, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .identifier("in"):
            let op: BinaryOperator
            switch kind {
            case .equalEqual: op = .equal
            case .notEqual: op = .notEqual
            case .less: op = .less
            case .lessEqual: op = .lessEqual
            case .greater: op = .greater
            case .greaterEqual: op = .greaterEqual
            default: op = .in
            }
            advance()
            result = node(.binary(op, lhs, try additive()), start)
        case .identifier("has"):
            advance()
            if case .string(let raw) = kind {
                advance()
                result = node(.hasAttribute(lhs, [CedarString(try unescapeString(raw))]), start)
            } else {
                var path = [CedarString(try identifier(what: "an attribute name or string after `has`"))]
                while kind == .dot {
                    advance()
                    path.append(CedarString(try identifier(what: "an attribute name after `.`")))
                }
                result = node(.hasAttribute(lhs, path), start)
            }
        case .identifier("like"):
            advance()
            guard case .string(let raw) = kind else { throw expected("a string literal pattern after `like`") }
            switch Unescaper.unescape(raw, pattern: true) {
            case .success(let pieces):
                result = node(
                    .like(
                        lhs,
                        Pattern(
                            pieces.map {
                                if case .scalar(let s) = $0 { return .scalar(s) }
                                return .wildcard
                            })), start)
            case .failure(let bad):
                throw error("the input `\(bad.text)` is not a valid escape")
            }
            advance()
        case .identifier("is"):
            advance()
            let type = try path()
            if isIdent("in") {
                advance()
                result = node(.isType(lhs, type, in: try additive()), start)
            } else {
                result = node(.isType(lhs, type, in: nil), start)
            }
        case .assign:
            throw error("expected `==` for equality, found `=`")
        default:
            return lhs
        }
        if isRelationStart {
            throw error("multiple relational operators (>, ==, in, etc.) must be used with parentheses to make ordering explicit")
        }
        return result
    }

    private mutating func additive() throws(ParseError) -> Expr {
        let start = current
        let first = try multiplicative()
        var terms: [AdditiveTerm] = []
        while kind == .plus || kind == .minus {
            let subtract = kind == .minus
            advance()
            terms.append(AdditiveTerm(subtract: subtract, operand: try multiplicative()))
        }
        return terms.isEmpty ? first : node(.add(first, terms), start)
    }

    private mutating func multiplicative() throws(ParseError) -> Expr {
        let start = current
        var operands = [try unary()]
        while true {
            switch kind {
            case .star:
                advance()
                operands.append(try unary())
            case .slash, .percent:
                throw error(kind == .slash ? "division is not supported" : "remainder (`%`) is not supported")
            default:
                return operands.count == 1 ? operands[0] : node(.multiply(operands), start)
            }
        }
    }

    private mutating func unary() throws(ParseError) -> Expr {
        let start = current
        let opKind = kind
        guard opKind == .bang || opKind == .minus else { return try member() }
        var count = 0
        while kind == opKind {
            count += 1
            advance()
        }
        if count > 4 { throw error("too many occurrences of `\(opKind == .bang ? "!" : "-")`") }
        if kind == .bang || kind == .minus { throw expected("an expression: `!` and `-` cannot be mixed without parentheses") }
        var operand: Expr
        // Fold one `-` into a following bare integer literal so that i64::MIN is expressible.
        if opKind == .minus, case .number(let digits) = kind, peekKind() != .dot, peekKind() != .lbracket {
            let t = current
            advance()
            guard let magnitude = UInt64(digits), magnitude <= UInt64(Int64.max) + 1 else {
                throw error("integer literal `\(digits)` is too large", at: t)
            }
            operand = node(.literal(.long(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))), start)
            count -= 1
        } else {
            operand = try member()
        }
        for _ in 0..<count { operand = node(opKind == .bang ? .not(operand) : .negate(operand), start) }
        return operand
    }

    private mutating func member() throws(ParseError) -> Expr {
        let start = current
        var e = try primary()
        var chain = 0
        defer { depth -= chain }
        while true {
            switch kind {
            case .dot:
                advance()
                chain += 1
                try enter()
                let nameToken = current
                let name = try identifier(what: "an attribute or method name after `.`")
                if kind == .lparen {
                    advance()
                    let args = try expressionList(closing: .rparen, what: "`)` to close the argument list")
                    guard let f = Function(rawValue: name), !f.isConstructor else {
                        throw error("`\(name)` is not a valid method", at: nameToken)
                    }
                    if f.isBuiltinMethod, args.count + 1 != f.arity {
                        throw error(
                            "call to `\(name)` requires exactly \(f.arity - 1) argument\(f.arity == 2 ? "" : "s"), but got \(args.count)",
                            at: nameToken)
                    }
                    e = node(.call(f, [e] + args), start)
                } else {
                    e = node(.getAttribute(e, CedarString(name)), start)
                }
            case .lbracket:
                advance()
                guard case .string(let raw) = kind else { throw expected("a string literal inside `[ ]`") }
                advance()
                let key = CedarString(try unescapeString(raw))
                try expect(.rbracket, "`]` after the attribute name")
                e = node(.getAttribute(e, key), start)
            case .lparen:
                throw error("only extension functions and methods can be called")
            default:
                return e
            }
        }
    }

    private mutating func expressionList(closing: TokenKind, what: String) throws(ParseError) -> [Expr] {
        var items: [Expr] = []
        while kind != closing {
            items.append(try expression())
            if kind == .comma {
                advance()
            } else {
                break
            }
        }
        try expect(closing, what)
        return items
    }

    private mutating func primary() throws(ParseError) -> Expr {
        let t = current
        switch kind {
        case .number(let digits):
            advance()
            guard let v = Int64(digits) else { throw error("integer literal `\(digits)` is too large", at: t) }
            return node(.literal(.long(v)), t)
        case .string(let raw):
            advance()
            return node(.literal(.string(CedarString(try unescapeString(raw)))), t)
        case .lparen:
            advance()
            let e = try expression()
            try expect(.rparen, "`)` to close the parenthesis")
            return e
        case .lbracket:
            advance()
            if kind == .comma { throw expected("an expression or `]`") }
            return node(.set(try expressionList(closing: .rbracket, what: "`,` or `]` in the set literal")), t)
        case .lbrace:
            advance()
            var entries: [RecordEntry] = []
            var seen = Set<CedarString>()
            while kind != .rbrace {
                let keyToken = current
                let key: CedarString
                if case .string(let raw) = kind {
                    key = CedarString(try unescapeString(raw))
                    advance()
                } else {
                    key = CedarString(try identifier(what: "a record key (identifier or string)"))
                }
                guard seen.insert(key).inserted else {
                    throw error("duplicate key `\(key.string)` in record literal", at: keyToken)
                }
                try expect(.colon, "`:` after the record key")
                entries.append(RecordEntry(key: key, value: try expression()))
                if kind == .comma { advance() } else { break }
            }
            try expect(.rbrace, "`,` or `}` in the record literal")
            return node(.record(entries), t)
        case .slot(let name):
            throw error("template slot `?\(name)` is only allowed in the policy scope")
        case .identifier(let name):
            if name == "true" || name == "false" {
                advance()
                return node(.literal(.bool(name == "true")), t)
            }
            if Self.reserved.contains(name) && peekKind() != .doubleColon {
                throw error("expected an expression, found reserved word `\(name)`")
            }
            // Collect a path: ident (:: ident)*, then decide: entity literal, call, or variable.
            var components: [String] = []
            while true {
                components.append(try identifier(what: "an identifier"))
                guard kind == .doubleColon else { break }
                advance()
                if case .string(let raw) = kind {
                    advance()
                    let id = CedarString(try unescapeString(raw))
                    return node(.literal(.entity(EntityUID(type: EntityType(components: components), id: id))), t)
                }
            }
            if kind == .lparen {
                advance()
                let args = try expressionList(closing: .rparen, what: "`)` to close the argument list")
                let fullName = components.joined(separator: "::")
                guard components.count == 1, let f = Function(rawValue: fullName) else {
                    throw error("`\(fullName)` is not a valid function", at: t)
                }
                guard f.isConstructor else { throw error("`\(fullName)` is a method, not a function", at: t) }
                return node(.call(f, args), t)
            }
            guard components.count == 1, let v = Variable(rawValue: components[0]) else {
                throw error(
                    "expected an expression: `\(components.joined(separator: "::"))` is not a variable, entity reference or function call", at: t)
            }
            return node(.variable(v), t)
        default:
            throw expected("an expression")
        }
    }
}

/// Parses a single entity reference such as `User::"alice"` (used for request JSON).
public func parseEntityUID(_ text: String) -> Result<EntityUID, ParseError> {
    do throws(ParseError) {
        var parser = try Parser(text: text, file: "<entity>")
        let e = try parser.expression()
        guard parser.atEnd, case .literal(.entity(let uid)) = e else {
            return .failure(ParseError(SourceLocation(file: "<entity>", line: 1, column: 1), "expected an entity reference like `User::\"alice\"`"))
        }
        return .success(uid)
    } catch {
        return .failure(error)
    }
}

/// Parses one Cedar expression (used by tests and tools that evaluate expressions directly).
public func parseExpression(_ text: String, file: String = "<expr>") -> Result<Expr, ParseError> {
    do throws(ParseError) {
        var parser = try Parser(text: text, file: file)
        let e = try parser.expression()
        guard parser.atEnd else { throw ParseError(SourceLocation(file: file, line: 1, column: 1), "unexpected input after the expression") }
        return .success(e)
    } catch {
        return .failure(error)
    }
}
