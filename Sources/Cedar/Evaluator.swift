/// An authorization request: principal, action, resource and a context record.
public struct Request: Hashable, Sendable {
    public let principal: EntityUID
    public let action: EntityUID
    public let resource: EntityUID
    public let context: [CedarString: Value]

    public init(principal: EntityUID, action: EntityUID, resource: EntityUID, context: [CedarString: Value] = [:]) {
        self.principal = principal
        self.action = action
        self.resource = resource
        self.context = context
    }
}

/// Evaluates expressions against one request and entity store (cedar-lean `Spec/Evaluator.lean`).
///
/// Strict left-to-right evaluation: every operand is evaluated before any type check, and only
/// `&&`, `||` and `if` short-circuit.
public struct Evaluator: Sendable {
    public let request: Request
    public let entities: Entities

    public init(request: Request, entities: Entities) {
        self.request = request
        self.entities = entities
    }

    public func evaluate(_ expr: Expr) throws(EvaluationError) -> Value {
        switch expr {
        case .literal(let v):
            return v
        case .variable(let v):
            switch v {
            case .principal: return .entity(request.principal)
            case .action: return .entity(request.action)
            case .resource: return .entity(request.resource)
            case .context: return .record(request.context)
            }
        case .not(let a):
            return .bool(!(try bool(evaluate(a))))
        case .negate(let a):
            let x = try long(evaluate(a))
            let (r, o) = Int64(0).subtractingReportingOverflow(x)
            if o { throw .overflow(operation: "negate", operands: [x]) }
            return .long(r)
        case .and(let operands):
            for o in operands where !(try bool(evaluate(o))) { return .bool(false) }
            return .bool(true)
        case .or(let operands):
            for o in operands where try bool(evaluate(o)) { return .bool(true) }
            return .bool(false)
        case .add(let first, let terms):
            // Both operands of each step are evaluated before either is type-checked.
            var acc = try evaluate(first)
            for t in terms {
                let r = try evaluate(t.operand)
                let a = try long(acc)
                let b = try long(r)
                let (v, o) = t.subtract ? a.subtractingReportingOverflow(b) : a.addingReportingOverflow(b)
                if o { throw .overflow(operation: t.subtract ? "subtract" : "add", operands: [a, b]) }
                acc = .long(v)
            }
            return acc
        case .multiply(let operands):
            var acc = try evaluate(operands[0])
            for operand in operands.dropFirst() {
                let r = try evaluate(operand)
                let a = try long(acc)
                let b = try long(r)
                let (v, o) = a.multipliedReportingOverflow(by: b)
                if o { throw .overflow(operation: "multiply", operands: [a, b]) }
                acc = .long(v)
            }
            return acc
        case .ifThenElse(let c, let t, let e):
            return try bool(evaluate(c)) ? evaluate(t) : evaluate(e)
        case .binary(let op, let a, let b):
            return try binary(op, evaluate(a), evaluate(b))
        case .getAttribute(let a, let name):
            return try attribute(of: evaluate(a), name)
        case .hasAttribute(let a, let path):
            var current = try evaluate(a)
            for (k, name) in path.enumerated() {
                guard try has(current, name) else { return .bool(false) }
                if k + 1 < path.count { current = try attribute(of: current, name) }
            }
            return .bool(true)
        case .like(let a, let pattern):
            let v = try evaluate(a)
            guard case .string(let s) = v else { throw .typeError(expected: [.string], got: v.typeName) }
            return .bool(wildcardMatch(s.scalars, pattern.elements))
        case .isType(let a, let type, let container):
            let v = try evaluate(a)
            guard case .entity(let uid) = v else { throw .typeError(expected: [.entity], got: v.typeName) }
            guard uid.type == type else { return .bool(false) }
            guard let container else { return .bool(true) }
            return try binary(.in, v, evaluate(container))
        case .set(let items):
            var s = Set<Value>(minimumCapacity: items.count)
            for item in items { s.insert(try evaluate(item)) }
            return .set(s)
        case .record(let entries):
            var r = [CedarString: Value](minimumCapacity: entries.count)
            for entry in entries { r[entry.key] = try evaluate(entry.value) }
            return .record(r)
        case .call(let f, let args):
            // No function takes more than two arguments (receiver included); further ones are
            // still evaluated, in order, before the arity error.
            let first = try args.isEmpty ? nil : evaluate(args[0])
            let second = try args.count < 2 ? nil : evaluate(args[1])
            for extra in args.dropFirst(2) { _ = try evaluate(extra) }
            return try call(f, Arguments(count: args.count, first: first, second: second))
        }
    }

    @inline(__always)
    private func bool(_ v: Value) throws(EvaluationError) -> Bool {
        guard case .bool(let b) = v else { throw .typeError(expected: [.bool], got: v.typeName) }
        return b
    }

    @inline(__always)
    private func long(_ v: Value) throws(EvaluationError) -> Int64 {
        guard case .long(let n) = v else { throw .typeError(expected: [.long], got: v.typeName) }
        return n
    }

    private func binary(_ op: BinaryOperator, _ l: Value, _ r: Value) throws(EvaluationError) -> Value {
        switch op {
        case .equal: return .bool(l == r)
        case .notEqual: return .bool(l != r)
        case .less: return .bool(try compare(l, r, orEqual: false))
        case .lessEqual: return .bool(try compare(l, r, orEqual: true))
        case .greater: return .bool(!(try compare(l, r, orEqual: true)))
        case .greaterEqual: return .bool(!(try compare(l, r, orEqual: false)))
        case .in:
            guard case .entity(let child) = l else { throw .typeError(expected: [.entity], got: l.typeName) }
            switch r {
            case .entity(let parent):
                return .bool(entities.isDescendant(child, of: parent))
            case .set(let parents):
                // Every element must be an entity, even after a match is found.
                var found = false
                for p in parents {
                    guard case .entity(let uid) = p else { throw .typeError(expected: [.entity], got: p.typeName) }
                    if !found { found = entities.isDescendant(child, of: uid) }
                }
                return .bool(found)
            default:
                throw .typeError(expected: [.set, .entity], got: r.typeName)
            }
        }
    }

    private func compare(_ l: Value, _ r: Value, orEqual: Bool) throws(EvaluationError) -> Bool {
        switch (l, r) {
        case (.long(let a), .long(let b)): return orEqual ? a <= b : a < b
        case (.datetime(let a), .datetime(let b)): return orEqual ? a <= b : a < b
        case (.duration(let a), .duration(let b)): return orEqual ? a <= b : a < b
        case (.long, _): throw .typeError(expected: [.long], got: r.typeName)
        case (.datetime, _): throw .typeError(expected: [.datetime], got: r.typeName)
        case (.duration, _): throw .typeError(expected: [.duration], got: r.typeName)
        default: throw .typeError(expected: [.long, .datetime, .duration], got: l.typeName)
        }
    }

    private func has(_ v: Value, _ name: CedarString) throws(EvaluationError) -> Bool {
        switch v {
        case .record(let r): return r[name] != nil
        case .entity(let uid): return entities[uid]?.attributes[name] != nil
        default: throw .typeError(expected: [.entity, .record], got: v.typeName)
        }
    }

    private func attribute(of v: Value, _ name: CedarString) throws(EvaluationError) -> Value {
        switch v {
        case .record(let r):
            guard let x = r[name] else { throw .attributeDoesNotExist(owner: "record", attribute: name) }
            return x
        case .entity(let uid):
            guard let entity = entities[uid] else { throw .entityDoesNotExist(uid) }
            guard let x = entity.attributes[name] else { throw .attributeDoesNotExist(owner: "`\(uid)`", attribute: name) }
            return x
        default:
            throw .typeError(expected: [.entity, .record], got: v.typeName)
        }
    }

    private func call(_ f: Function, _ args: Arguments) throws(EvaluationError) -> Value {
        guard f.isBuiltinMethod else { return try Extensions.apply(f, args) }
        // The parser checked the arity of built-in methods.
        let a = args.first!
        let b = args.second
        switch f {
        case .contains:
            return .bool(try set(a).contains(b!))
        case .containsAll:
            let s = try set(a)
            let t = try set(b!)
            return .bool(t.isSubset(of: s))
        case .containsAny:
            let s = try set(a)
            let t = try set(b!)
            return .bool(!s.isDisjoint(with: t))
        case .isEmpty:
            return .bool(try set(a).isEmpty)
        default:
            guard case .entity(let uid) = a else { throw .typeError(expected: [.entity], got: a.typeName) }
            guard case .string(let key) = b! else { throw .typeError(expected: [.string], got: b!.typeName) }
            if f == .hasTag { return .bool(entities[uid]?.tags[key] != nil) }
            guard let entity = entities[uid] else { throw .entityDoesNotExist(uid) }
            guard let tag = entity.tags[key] else { throw .tagDoesNotExist(uid, tag: key) }
            return tag
        }
    }

    private func set(_ v: Value) throws(EvaluationError) -> Set<Value> {
        guard case .set(let s) = v else { throw .typeError(expected: [.set], got: v.typeName) }
        return s
    }
}

/// `like` matching over Unicode scalars: `*` matches any run, including the empty one.
/// Greedy with backtracking to the last star, so the cost is O(|s|·|p|) in the worst case.
func wildcardMatch(_ text: String.UnicodeScalarView, _ pattern: [PatternElement]) -> Bool {
    var i = text.startIndex
    var j = 0
    var starJ = -1
    var starI = text.startIndex
    while i < text.endIndex {
        if j < pattern.count, case .scalar(let c) = pattern[j], c == text[i] {
            i = text.index(after: i)
            j += 1
        } else if j < pattern.count, pattern[j] == .wildcard {
            starJ = j
            starI = i
            j += 1
        } else if starJ >= 0 {
            starI = text.index(after: starI)
            i = starI
            j = starJ + 1
        } else {
            return false
        }
    }
    while j < pattern.count, pattern[j] == .wildcard { j += 1 }
    return j == pattern.count
}
