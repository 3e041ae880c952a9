/// Prints policies in one canonical layout. Printing is a pure function of the parsed policy,
/// so `format(format(x)) == format(x)`, and parentheses are inserted exactly where the grammar
/// needs them, so `parse(format(x))` gives back the same policies. `//` comments are kept: those
/// inside a policy move above it.
public enum PolicyFormatter {
    public static func format(_ policies: [Policy]) -> String {
        format(PolicyFile(policies: policies))
    }

    /// Prints a file with its comments: leading ones above each policy, a trailing one after its `;`.
    public static func format(_ file: PolicyFile) -> String {
        var blocks: [String] = []
        for (p, c) in zip(file.policies, file.comments) {
            var block = c.leading.map { "//\($0)\n" }.joined()
            block += format(p)
            if let t = c.trailing { block += " //\(t)" }
            blocks.append(block)
        }
        if !file.trailer.isEmpty { blocks.append(file.trailer.map { "//\($0)" }.joined(separator: "\n")) }
        return blocks.joined(separator: "\n\n") + (blocks.isEmpty ? "" : "\n")
    }

    public static func format(_ p: Policy) -> String {
        var out = ""
        for a in p.annotations {
            out += "@\(a.key)(\(quoteCedarString(a.value.string)))\n"
        }
        out += "\(p.effect.rawValue) (\n"
        out += "  principal\(constraint(p.principal)),\n"
        out += "  action\(constraint(p.action)),\n"
        out += "  resource\(constraint(p.resource))\n)"
        for c in p.conditions {
            out += "\n\(c.kind.rawValue) { \(expression(c.body)) }"
        }
        return out + ";"
    }

    private static func reference(_ r: EntityReference) -> String {
        switch r {
        case .uid(let u): return u.description
        case .slot(let s): return s.rawValue
        }
    }

    private static func constraint(_ c: EntityConstraint) -> String {
        switch c {
        case .any: return ""
        case .equal(let r): return " == \(reference(r))"
        case .in(let r): return " in \(reference(r))"
        case .isType(let t): return " is \(t)"
        case .isTypeIn(let t, let r): return " is \(t) in \(reference(r))"
        }
    }

    private static func constraint(_ c: ActionConstraint) -> String {
        switch c {
        case .any: return ""
        case .equal(let u): return " == \(u)"
        case .in(let u): return " in \(u)"
        case .inList(let us): return " in [\(us.map(\.description).joined(separator: ", "))]"
        }
    }

    // Precedence levels, lowest first (cedar.md §1.4).
    private static let ifLevel = 1, orLevel = 2, andLevel = 3, relLevel = 4, addLevel = 5, mulLevel = 6,
        unaryLevel = 7, memberLevel = 8, primaryLevel = 9

    private static func level(_ e: Expr) -> Int {
        switch e {
        case .ifThenElse: return ifLevel
        case .or: return orLevel
        case .and: return andLevel
        case .add: return addLevel
        case .multiply: return mulLevel
        case .binary, .hasAttribute, .like, .isType: return relLevel
        case .not, .negate: return unaryLevel
        case .literal(.long(let n)) where n < 0: return unaryLevel
        case .getAttribute: return memberLevel
        case .call(let f, _): return f.isConstructor ? primaryLevel : memberLevel
        default: return primaryLevel
        }
    }

    /// Prints a whole expression.
    public static func expression(_ e: Expr) -> String {
        var out = ""
        write(e, &out)
        return out
    }

    private static func write(_ e: Expr, atLeast minLevel: Int, _ out: inout String) {
        if level(e) < minLevel {
            out += "("
            write(e, &out)
            out += ")"
        } else {
            write(e, &out)
        }
    }

    private static func write(_ e: Expr, _ out: inout String) {
        switch e {
        case .literal(let v):
            out += valueSource(v)
        case .variable(let v):
            out += v.rawValue
        case .not(let a), .negate(let a):
            let bang: Bool
            if case .not = e { bang = true } else { bang = false }
            out += bang ? "!" : "-"
            // A negated integer literal must keep its parentheses or it would fold into the literal.
            if !bang, case .literal(.long) = a {
                out += "("
                write(a, &out)
                out += ")"
            } else {
                write(a, atLeast: memberLevel, &out)
            }
        // Chain operands one level up, so a nested chain keeps its parentheses and reparses as written.
        case .and(let xs):
            for (k, x) in xs.enumerated() {
                if k > 0 { out += " && " }
                write(x, atLeast: relLevel, &out)
            }
        case .or(let xs):
            for (k, x) in xs.enumerated() {
                if k > 0 { out += " || " }
                write(x, atLeast: andLevel, &out)
            }
        case .add(let first, let terms):
            write(first, atLeast: mulLevel, &out)
            for t in terms {
                out += t.subtract ? " - " : " + "
                write(t.operand, atLeast: mulLevel, &out)
            }
        case .multiply(let xs):
            for (k, x) in xs.enumerated() {
                if k > 0 { out += " * " }
                write(x, atLeast: unaryLevel, &out)
            }
        case .ifThenElse(let c, let t, let f):
            out += "if "
            write(c, &out)
            out += " then "
            write(t, &out)
            out += " else "
            write(f, &out)
        case .binary(let op, let a, let b):
            write(a, atLeast: addLevel, &out)
            out += " \(op.rawValue) "
            write(b, atLeast: addLevel, &out)
        case .getAttribute(let a, let name):
            write(a, atLeast: memberLevel, &out)
            if isIdentifier(name.string) {
                out += ".\(name.string)"
            } else {
                out += "[\(quoteCedarString(name.string))]"
            }
        case .hasAttribute(let a, let path):
            write(a, atLeast: addLevel, &out)
            out += " has "
            if path.allSatisfy({ isIdentifier($0.string) }) {
                out += path.map(\.string).joined(separator: ".")
            } else {
                out += quoteCedarString(path[0].string)
            }
        case .like(let a, let pattern):
            write(a, atLeast: addLevel, &out)
            out += " like \""
            for element in pattern.elements {
                switch element {
                case .wildcard: out += "*"
                case .scalar("*"): out += "\\*"
                case .scalar(let s): out += escapeScalar(s)
                }
            }
            out += "\""
        case .isType(let a, let t, let container):
            write(a, atLeast: addLevel, &out)
            out += " is \(t)"
            if let container {
                out += " in "
                write(container, atLeast: addLevel, &out)
            }
        case .set(let items):
            out += "["
            for (k, item) in items.enumerated() {
                if k > 0 { out += ", " }
                write(item, &out)
            }
            out += "]"
        case .record(let entries):
            out += "{"
            for (k, entry) in entries.enumerated() {
                if k > 0 { out += ", " }
                out += isIdentifier(entry.key.string) ? entry.key.string : quoteCedarString(entry.key.string)
                out += ": "
                write(entry.value, &out)
            }
            out += "}"
        case .call(let f, let args):
            if f.isConstructor {
                out += f.rawValue
                out += "("
                writeList(args[...], &out)
            } else {
                write(args[0], atLeast: memberLevel, &out)
                out += ".\(f.rawValue)("
                writeList(args.dropFirst(), &out)
            }
            out += ")"
        }
    }

    private static func writeList(_ args: ArraySlice<Expr>, _ out: inout String) {
        for (k, a) in args.enumerated() {
            if k > 0 { out += ", " }
            write(a, &out)
        }
    }

    /// A value as a Cedar expression that evaluates to it. Set elements and record keys are
    /// sorted by their text so the output is deterministic.
    public static func valueSource(_ v: Value) -> String {
        switch v {
        case .bool(let b): return b ? "true" : "false"
        case .long(let n): return String(n)
        case .string(let s): return quoteCedarString(s.string)
        case .entity(let u): return u.description
        case .set(let s): return "[" + s.map(valueSource).sorted().joined(separator: ", ") + "]"
        case .record(let r):
            let fields = r.sorted { $0.key < $1.key }.map { field in
                let key = isIdentifier(field.key.string) ? field.key.string : quoteCedarString(field.key.string)
                return "\(key): \(valueSource(field.value))"
            }
            return "{" + fields.joined(separator: ", ") + "}"
        case .ipaddr(let ip): return "ip(\(quoteCedarString(ip.description)))"
        case .decimal(let d): return "decimal(\(quoteCedarString(d.description)))"
        case .datetime(let d): return "datetime(\"1970-01-01\").offset(duration(\"\(d.epochMilliseconds)ms\"))"
        case .duration(let d): return "duration(\"\(d.milliseconds)ms\")"
        }
    }

    static func isIdentifier(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, !(first >= 48 && first <= 57) else { return false }
        return b.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || $0 == 95 || ($0 >= 48 && $0 <= 57) }
            && !Parser.reserved.contains(s)
    }
}

func escapeScalar(_ s: Unicode.Scalar) -> String {
    switch s {
    case "\"": return "\\\""
    case "\\": return "\\\\"
    case "\n": return "\\n"
    case "\r": return "\\r"
    case "\t": return "\\t"
    case "\0": return "\\0"
    default:
        if s.value < 0x20 || s.value == 0x7F { return "\\u{\(String(s.value, radix: 16))}" }
        return String(s)
    }
}

/// Cedar string literal with the escapes the parser accepts.
func quoteCedarString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars { out += escapeScalar(scalar) }
    return out + "\""
}
