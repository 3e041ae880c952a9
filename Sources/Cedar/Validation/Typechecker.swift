/// An expression with the source location of each node, for located type errors.
struct LocatedExpr: Sendable {
    let expr: Expr
    let location: SourceLocation
    /// The subexpressions in source order (see `Condition.locations`).
    let children: [LocatedExpr]

    /// Pairs `expr` with post-order node locations; with missing or mismatched locations every
    /// node gets `fallback` (the policy start).
    init(_ expr: Expr, locations: [SourceLocation], fallback: SourceLocation) {
        let usable = locations.count == Self.nodeCount(expr) ? locations : []
        var k = 0
        self = LocatedExpr(expr, usable, fallback, &k)
    }

    /// A node built by the validator itself (scope constraints, desugarings).
    init(synthetic expr: Expr, at location: SourceLocation, children: [LocatedExpr]) {
        self.expr = expr
        self.location = location
        self.children = children
    }

    private init(_ expr: Expr, _ locations: [SourceLocation], _ fallback: SourceLocation, _ k: inout Int) {
        var kids: [LocatedExpr] = []
        for c in Self.subexpressions(expr) { kids.append(LocatedExpr(c, locations, fallback, &k)) }
        self.expr = expr
        self.children = kids
        self.location = k < locations.count ? locations[k] : fallback
        k += 1
    }

    static func subexpressions(_ e: Expr) -> [Expr] {
        switch e {
        case .literal, .variable: return []
        case .not(let x), .negate(let x), .getAttribute(let x, _), .hasAttribute(let x, _), .like(let x, _): return [x]
        case .and(let xs), .or(let xs), .multiply(let xs), .set(let xs), .call(_, let xs): return xs
        case .add(let first, let terms): return [first] + terms.map(\.operand)
        case .ifThenElse(let c, let t, let f): return [c, t, f]
        case .binary(_, let l, let r): return [l, r]
        case .isType(let x, _, let y): return [x] + (y.map { [$0] } ?? [])
        case .record(let entries): return entries.map(\.value)
        }
    }

    private static func nodeCount(_ e: Expr) -> Int {
        var n = 0
        var stack = [e]
        while let x = stack.popLast() {
            n += 1
            stack += subexpressions(x)
        }
        return n
    }
}

/// A `has` fact: the attribute (or tag) of this expression is known to exist here.
struct Capability: Hashable, Sendable {
    enum Key: Hashable, Sendable {
        case attribute(CedarString)
        case tag(Expr)
    }

    let expr: Expr
    let key: Key
}

/// One (principal type, action, resource type) combination the schema allows.
struct RequestEnvironment: Sendable {
    let principal: EntityType
    let action: EntityUID
    let resource: EntityType
    let context: RecordType
}

/// Typechecks expressions in one request environment, following Cedar's strict-mode
/// typechecker (`cedar-policy-core/src/validator/typecheck.rs`; Lean model
/// `cedar-lean/Cedar/Validation/Typechecker.lean`): singleton booleans for short-circuiting,
/// capabilities for `has` guards, and least upper bounds without width subtyping.
struct Typechecker {
    struct Typed {
        let type: CedarType
        var capabilities: Set<Capability> = []
    }

    let schema: CedarSchema
    let environment: RequestEnvironment
    /// Type errors found so far, in the order found.
    private(set) var errors: [(location: SourceLocation, message: String)] = []

    init(schema: CedarSchema, environment: RequestEnvironment) {
        self.schema = schema
        self.environment = environment
    }

    private mutating func report(_ node: LocatedExpr, _ message: String) {
        errors.append((node.location, message))
    }

    // MARK: Expectations

    /// Typechecks `node` and requires its type to satisfy `accepts`; reports otherwise.
    mutating func expect(
        _ node: LocatedExpr, _ prior: Set<Capability>, _ expected: String,
        _ accepts: (CedarType) -> Bool
    ) -> Typed? {
        guard let t = check(node, prior) else { return nil }
        guard accepts(t.type) else {
            report(node, "unexpected type: expected \(expected) but saw \(t.type)")
            return nil
        }
        return t
    }

    mutating func expectBool(_ node: LocatedExpr, _ prior: Set<Capability>) -> Typed? {
        expect(node, prior, "Bool") { if case .bool = $0 { return true } else { return false } }
    }

    private mutating func expectEntity(_ node: LocatedExpr, _ prior: Set<Capability>) -> Typed? {
        expect(node, prior, "__cedar::internal::AnyEntity") { $0.entityType != nil }
    }

    private mutating func expectEntityOrRecord(_ node: LocatedExpr, _ prior: Set<Capability>) -> Typed? {
        expect(node, prior, "one of __cedar::internal::AnyEntity, {}") {
            if case .record = $0 { return true }
            return $0.entityType != nil
        }
    }

    private mutating func expectSet(_ node: LocatedExpr, _ prior: Set<Capability>) -> Typed? {
        expect(node, prior, "Set<__cedar::internal::Any>") { if case .set = $0 { return true } else { return false } }
    }

    // MARK: Boolean connectives

    /// `l && r` once both sides are typed (the caller skips `r` when `l` is always false).
    static func and(_ l: Typed, _ r: Typed) -> Typed {
        guard case .bool(let lb) = l.type, case .bool(let rb) = r.type else { return Typed(type: .bool(.any)) }
        if rb == .alwaysFalse { return Typed(type: .bool(.alwaysFalse)) }
        if rb == .alwaysTrue { return Typed(type: l.type, capabilities: l.capabilities.union(r.capabilities)) }
        // Cedar keeps only the right-hand capabilities when the left is always true.
        if lb == .alwaysTrue { return r }
        return Typed(type: .bool(.any), capabilities: l.capabilities.union(r.capabilities))
    }

    /// `l || r` once both sides are typed (the caller skips `r` when `l` is always true).
    static func or(_ l: Typed, _ r: Typed) -> Typed {
        guard case .bool(let lb) = l.type, case .bool(let rb) = r.type else { return Typed(type: .bool(.any)) }
        if rb == .alwaysTrue { return Typed(type: .bool(.alwaysTrue), capabilities: r.capabilities) }
        if rb == .alwaysFalse { return l }
        if lb == .alwaysFalse { return r }
        return Typed(type: .bool(.any), capabilities: l.capabilities.intersection(r.capabilities))
    }

    private mutating func andChain(_ operands: [LocatedExpr], _ prior: Set<Capability>) -> Typed? {
        guard var acc = expectBool(operands[0], prior) else { return nil }
        for next in operands.dropFirst() {
            if acc.type == .bool(.alwaysFalse) { return Typed(type: .bool(.alwaysFalse)) }
            guard let r = expectBool(next, prior.union(acc.capabilities)) else { return nil }
            acc = Self.and(acc, r)
        }
        return acc
    }

    // MARK: Expressions

    mutating func check(_ node: LocatedExpr, _ prior: Set<Capability>) -> Typed? {
        let kids = node.children
        switch node.expr {
        case .literal(let v):
            return typeOfValue(v).map { Typed(type: $0) }
        case .variable(let v):
            switch v {
            case .principal: return Typed(type: .entity(environment.principal))
            case .action: return Typed(type: .entity(environment.action.type))
            case .resource: return Typed(type: .entity(environment.resource))
            case .context: return Typed(type: CedarType(environment.context))
            }
        case .not:
            guard let t = expectBool(kids[0], prior), case .bool(let b) = t.type else { return nil }
            return Typed(type: .bool(b.negated))
        case .negate:
            return expect(kids[0], prior, "Long") { $0 == .long }.map { _ in Typed(type: .long) }
        case .and:
            return andChain(kids, prior)
        case .or:
            guard var acc = expectBool(kids[0], prior) else { return nil }
            for next in kids.dropFirst() {
                if acc.type == .bool(.alwaysTrue) { return acc }
                guard let r = expectBool(next, prior) else { return nil }
                acc = Self.or(acc, r)
            }
            return acc
        case .add, .multiply:
            var ok = true
            for k in kids where expect(k, prior, "Long", { $0 == .long }) == nil { ok = false }
            return ok ? Typed(type: .long) : nil
        case .ifThenElse:
            return ifThenElse(node, prior)
        case .binary(let op, _, _):
            return binary(op, node, prior)
        case .getAttribute(_, let attr):
            return getAttribute(node, kids[0], attr, prior)
        case .hasAttribute(let x, let path):
            return hasPath(node, x, kids[0], path, prior)
        case .like:
            return expect(kids[0], prior, "String") { $0 == .string }.map { _ in Typed(type: .bool(.any)) }
        case .isType(let x, let type, let inExpr):
            guard let inExpr else { return isType(kids[0], type, prior) }
            // `e is T in x` means `e is T && e in x`.
            let inNode = LocatedExpr(synthetic: .binary(.in, x, inExpr), at: node.location, children: [kids[0], kids[1]])
            guard let l = isType(kids[0], type, prior) else { return nil }
            if l.type == .bool(.alwaysFalse) { return l }
            guard let r = binary(.in, inNode, prior) else { return nil }
            return Self.and(l, r)
        case .set:
            var types: [CedarType] = []
            var ok = true
            for k in kids {
                if let t = check(k, prior) { types.append(t.type) } else { ok = false }
            }
            guard ok else { return nil }
            guard let first = types.first else {
                report(node, "empty set literals are forbidden in policies")
                return nil
            }
            guard let element = lub(types.dropFirst(), first, node) else { return nil }
            return Typed(type: .set(element))
        case .record(let entries):
            var attrs: [CedarString: CedarType.Attribute] = [:]
            var ok = true
            for (entry, k) in zip(entries, kids) {
                if let t = check(k, prior) { attrs[entry.key] = .init(type: t.type, required: true) } else { ok = false }
            }
            return ok ? Typed(type: .record(attrs)) : nil
        case .call(let f, let args):
            return call(f, args, node, prior)
        }
    }

    private mutating func lub(_ rest: some Sequence<CedarType>, _ first: CedarType, _ node: LocatedExpr) -> CedarType? {
        var acc = first
        for t in rest {
            guard let l = CedarType.leastUpperBound(acc, t) else {
                report(node, "the types \(acc) and \(t) are not compatible")
                return nil
            }
            acc = l
        }
        return acc
    }

    /// Type of a literal value; entity literals need a declared type or action.
    private func typeOfValue(_ v: Value) -> CedarType? {
        switch v {
        case .bool(let b): return .bool(.singleton(b))
        case .long: return .long
        case .string: return .string
        case .entity(let uid):
            if uid.type.isActionType { return schema.actions[uid] != nil ? .entity(uid.type) : nil }
            return schema.entityTypes[uid.type] != nil ? .entity(uid.type) : nil
        case .set(let items):
            var acc: CedarType?
            for item in items {
                guard let t = typeOfValue(item) else { return nil }
                guard let a = acc else {
                    acc = t
                    continue
                }
                guard let l = CedarType.leastUpperBound(a, t) else { return nil }
                acc = l
            }
            return acc.map { .set($0) }
        case .record(let fields):
            var attrs: [CedarString: CedarType.Attribute] = [:]
            for (k, x) in fields {
                guard let t = typeOfValue(x) else { return nil }
                attrs[k] = .init(type: t, required: true)
            }
            return .record(attrs)
        case .ipaddr: return .ipaddr
        case .decimal: return .decimal
        case .datetime: return .datetime
        case .duration: return .duration
        }
    }

    private mutating func ifThenElse(_ node: LocatedExpr, _ prior: Set<Capability>) -> Typed? {
        let kids = node.children
        guard let c = expectBool(kids[0], prior) else { return nil }
        switch c.type {
        case .bool(.alwaysTrue):
            guard var t = check(kids[1], prior.union(c.capabilities)) else { return nil }
            t.capabilities.formUnion(c.capabilities)
            return t
        case .bool(.alwaysFalse):
            return check(kids[2], prior)
        default:
            let t = check(kids[1], prior.union(c.capabilities))
            let e = check(kids[2], prior)
            guard let t, let e else { return nil }
            guard let type = lub(CollectionOfOne(e.type), t.type, node) else { return nil }
            return Typed(type: type, capabilities: e.capabilities.intersection(t.capabilities.union(c.capabilities)))
        }
    }

    // MARK: Binary operators

    /// The expression as a literal value, reading `action` as this environment's action.
    /// Cedar's parser folds `&&`/`||` of two boolean literals into a literal (`ExprBuilder::and`),
    /// so `"x" == (false && false)` compares two literals.
    private func literalValue(_ e: Expr) -> Value? {
        switch e {
        case .literal(let v):
            switch v {
            case .bool, .long, .string, .entity: return v
            default: return nil
            }
        case .variable(.action): return .entity(environment.action)
        case .and(let operands), .or(let operands):
            var all: [Bool] = []
            for o in operands {
                guard case .bool(let b)? = literalValue(o) else { return nil }
                all.append(b)
            }
            if case .and = e { return .bool(all.allSatisfy { $0 }) }
            return .bool(all.contains(true))
        default: return nil
        }
    }

    private func entityUIDs(_ e: Expr) -> [EntityUID]? {
        if case .entity(let uid)? = literalValue(e) { return [uid] }
        guard case .set(let items) = e else { return nil }
        var out: [EntityUID] = []
        for item in items {
            guard case .entity(let uid)? = literalValue(item) else { return nil }
            out.append(uid)
        }
        return out
    }

    private mutating func binary(_ op: BinaryOperator, _ node: LocatedExpr, _ prior: Set<Capability>) -> Typed? {
        guard case .binary(_, let lhs, let rhs) = node.expr else { return nil }
        let l = node.children[0]
        let r = node.children[1]
        switch op {
        case .equal, .notEqual:
            let lt = check(l, prior)
            let rt = check(r, prior)
            guard let lt, let rt else { return nil }
            var result: BoolType
            if let a = lt.type.entityType, let b = rt.type.entityType, a != b {
                result = .alwaysFalse
            } else if let a = literalValue(lhs), let b = literalValue(rhs) {
                result = .singleton(a == b)
            } else {
                result = .any
                guard lub(CollectionOfOne(rt.type), lt.type, node) != nil else { return nil }
            }
            if op == .notEqual { result = result.negated }
            return Typed(type: .bool(result))
        case .less, .lessEqual, .greater, .greaterEqual:
            let lt = check(l, prior)
            let rt = check(r, prior)
            guard let lt, let rt else { return nil }
            let comparable: Set<CedarType> = [.long, .datetime, .duration]
            if lt.type == rt.type, comparable.contains(lt.type) { return Typed(type: .bool(.any)) }
            let all = "datetime, or duration, or Long"
            switch (comparable.contains(lt.type), comparable.contains(rt.type)) {
            case (true, _): report(r, "unexpected type: expected \(lt.type == .long ? "Long" : lt.type.description) but saw \(rt.type)")
            case (false, true): report(l, "unexpected type: expected \(rt.type == .long ? "Long" : rt.type.description) but saw \(lt.type)")
            case (false, false):
                report(l, "unexpected type: expected \(all) but saw \(lt.type)")
                report(r, "unexpected type: expected \(all) but saw \(rt.type)")
            }
            return nil
        case .in:
            return typeOfIn(node, lhs, rhs, prior)
        }
    }

    /// `a in b` (Cedar `typecheck_in`): literal actions are decided from the action
    /// hierarchy; otherwise `false` when no entity of `a`'s type can be in one of `b`'s type.
    private mutating func typeOfIn(_ node: LocatedExpr, _ lhs: Expr, _ rhs: Expr, _ prior: Set<Capability>) -> Typed? {
        let lt = expectEntity(node.children[0], prior)
        let rt = expect(node.children[1], prior, "one of Set<__cedar::internal::AnyEntity>, __cedar::internal::AnyEntity") {
            if case .set(let e) = $0 { return e.entityType != nil }
            return $0.entityType != nil
        }
        guard let lt, let rt, let lhsType = lt.type.entityType else { return nil }
        if case .entity(let uid)? = literalValue(lhs), uid.type.isActionType, let rhsUIDs = entityUIDs(rhs) {
            let groups = rhsUIDs.filter { $0.type.isActionType }
            guard !groups.isEmpty else { return Typed(type: .bool(.alwaysFalse)) }
            guard let members = schema.actionsIn(groups) else { return nil }
            return Typed(type: .bool(.singleton(members.contains(uid))))
        }
        let rhsType: EntityType?
        if case .set(let e) = rt.type { rhsType = e.entityType } else { rhsType = rt.type.entityType }
        guard let rhsType else { return Typed(type: .bool(.any)) }
        let possible =
            schema.entityTypesIn(rhsType).contains(lhsType)
            || schema.actions.values.contains { $0.uid.type == rhsType && $0.descendants.contains { $0.type == lhsType } }
        return Typed(type: .bool(possible ? .any : .alwaysFalse))
    }

    private mutating func isType(_ x: LocatedExpr, _ type: EntityType, _ prior: Set<Capability>) -> Typed? {
        guard let t = expectEntity(x, prior), let actual = t.type.entityType else { return nil }
        return Typed(type: .bool(actual == type ? .alwaysTrue : .alwaysFalse))
    }

    // MARK: Attributes and tags

    /// Attributes of a record or entity type; entity types without a declaration (actions) have none.
    private func attributes(of t: CedarType) -> [CedarString: CedarType.Attribute] {
        switch t {
        case .record(let attrs): return attrs
        case .entity(let e):
            return schema.entityTypes[e].map { CedarType($0.attributes) }.flatMap {
                if case .record(let a) = $0 { return a } else { return nil }
            } ?? [:]
        default: return [:]
        }
    }

    /// How Cedar names the thing whose attribute is accessed, for messages.
    private func owner(_ node: LocatedExpr, _ t: CedarType) -> String {
        if case .variable(.context) = node.expr { return " in context for \(environment.action)" }
        if let e = t.entityType { return " on entity type `\(e)`" }
        return ""
    }

    private mutating func getAttribute(_ node: LocatedExpr, _ x: LocatedExpr, _ attr: CedarString, _ prior: Set<Capability>) -> Typed? {
        guard let t = expectEntityOrRecord(x, prior) else { return nil }
        guard let a = attributes(of: t.type)[attr] else {
            report(node, "attribute `\(attr.string)`\(owner(x, t.type)) not found")
            return nil
        }
        if !a.required && !prior.contains(Capability(expr: x.expr, key: .attribute(attr))) {
            report(node, "unable to guarantee safety of access to optional attribute `\(attr.string)`\(owner(x, t.type))")
            return Typed(type: a.type)
        }
        return Typed(type: a.type)
    }

    /// One `e has a` step on an already typed `e`.
    private func has(_ x: Expr, _ t: CedarType, _ attr: CedarString, _ prior: Set<Capability>) -> Typed {
        guard let a = attributes(of: t)[attr] else { return Typed(type: .bool(.alwaysFalse)) }
        let capability = Capability(expr: x, key: .attribute(attr))
        // A required record attribute always exists; an entity may be missing from the store.
        var isRecord = false
        if case .record = t { isRecord = true }
        let known = prior.contains(capability) || (a.required && isRecord)
        return Typed(type: .bool(known ? .alwaysTrue : .any), capabilities: [capability])
    }

    /// `e has a.b.c`, typed as `e has a && e.a has b && e.a.b has c`.
    private mutating func hasPath(_ node: LocatedExpr, _ x: Expr, _ xNode: LocatedExpr, _ path: [CedarString], _ prior: Set<Capability>) -> Typed? {
        guard let base = expectEntityOrRecord(xNode, prior) else { return nil }
        var acc = has(x, base.type, path[0], prior)
        var current = x
        var currentType = base.type
        for (previous, attr) in zip(path, path.dropFirst()) {
            if acc.type == .bool(.alwaysFalse) { return Typed(type: .bool(.alwaysFalse)) }
            let caps = prior.union(acc.capabilities)
            let owner = LocatedExpr(synthetic: current, at: node.location, children: [])
            let access = LocatedExpr(synthetic: .getAttribute(current, previous), at: node.location, children: [owner])
            guard let next = getAttributeOf(access, currentType, previous, caps) else { return nil }
            guard next.entityType != nil || { if case .record = next { return true } else { return false } }() else {
                report(node, "unexpected type: expected one of __cedar::internal::AnyEntity, {} but saw \(next)")
                return nil
            }
            current = .getAttribute(current, previous)
            currentType = next
            acc = Self.and(acc, has(current, next, attr, caps))
        }
        return acc
    }

    /// `getAttribute` on an expression whose type is already known (for `has` paths).
    private mutating func getAttributeOf(_ node: LocatedExpr, _ t: CedarType, _ attr: CedarString, _ prior: Set<Capability>) -> CedarType? {
        guard let a = attributes(of: t)[attr] else {
            report(node, "attribute `\(attr.string)`\(owner(node.children[0], t)) not found")
            return nil
        }
        if !a.required && !prior.contains(Capability(expr: node.children[0].expr, key: .attribute(attr))) {
            report(node, "unable to guarantee safety of access to optional attribute `\(attr.string)`\(owner(node.children[0], t))")
            return nil
        }
        return a.type
    }

    // MARK: Calls

    private mutating func call(_ f: Function, _ args: [Expr], _ node: LocatedExpr, _ prior: Set<Capability>) -> Typed? {
        let kids = node.children
        switch f {
        case .contains:
            guard let s = expectSet(kids[0], prior), let x = check(kids[1], prior), case .set(let e) = s.type else { return nil }
            return lub(CollectionOfOne(x.type), e, node).map { _ in Typed(type: .bool(.any)) }
        case .containsAll, .containsAny:
            let a = expectSet(kids[0], prior)
            let b = expectSet(kids[1], prior)
            guard let a, let b else { return nil }
            return lub(CollectionOfOne(b.type), a.type, node).map { _ in Typed(type: .bool(.any)) }
        case .isEmpty:
            return expectSet(kids[0], prior).map { _ in Typed(type: .bool(.any)) }
        case .hasTag, .getTag:
            let e = expectEntity(kids[0], prior)
            let tag = expect(kids[1], prior, "String") { $0 == .string }
            guard let e, tag != nil, let type = e.type.entityType else { return nil }
            let capability = Capability(expr: args[0], key: .tag(args[1]))
            let tagType = schema.entityTypes[type]?.tags
            if f == .hasTag {
                let b: BoolType = tagType == nil ? .alwaysFalse : prior.contains(capability) ? .alwaysTrue : .any
                return Typed(type: .bool(b), capabilities: [capability])
            }
            guard prior.contains(capability) else {
                report(node, "unable to guarantee safety of access to tag `\(tagDescription(args[1]))` on entity type `\(type)`")
                return nil
            }
            guard let tagType else {
                report(node, "no tags are allowed on entity type `\(type)`")
                return nil
            }
            return Typed(type: CedarType(tagType))
        default:
            return extensionCall(f, args, node, prior)
        }
    }

    private func tagDescription(_ e: Expr) -> String {
        if case .literal(.string(let s)) = e { return quoteCedarString(s.string) }
        return "<expression>"
    }

    /// Argument and result types of the extension functions, receiver first for methods.
    private static func signature(_ f: Function) -> (arguments: [CedarType], result: CedarType) {
        switch f {
        case .ip: return ([.string], .ipaddr)
        case .decimal: return ([.string], .decimal)
        case .datetime: return ([.string], .datetime)
        case .duration: return ([.string], .duration)
        case .isIpv4, .isIpv6, .isLoopback, .isMulticast: return ([.ipaddr], .bool(.any))
        case .isInRange: return ([.ipaddr, .ipaddr], .bool(.any))
        case .lessThan, .lessThanOrEqual, .greaterThan, .greaterThanOrEqual: return ([.decimal, .decimal], .bool(.any))
        case .offset: return ([.datetime, .duration], .datetime)
        case .durationSince: return ([.datetime, .datetime], .duration)
        case .toDate: return ([.datetime], .datetime)
        case .toTime: return ([.datetime], .duration)
        case .toMilliseconds, .toSeconds, .toMinutes, .toHours, .toDays: return ([.duration], .long)
        case .contains, .containsAll, .containsAny, .isEmpty, .getTag, .hasTag: return ([], .bool(.any))
        }
    }

    /// Why a constructor literal does not parse, or nil when it does.
    private static func invalidLiteral(_ f: Function, _ text: String) -> String? {
        switch f {
        case .ip: if case .failure = IPAddress.parse(text) { return "failed to parse as IP address" }
        case .decimal: if case .failure = CedarDecimal.parse(text) { return "failed to parse as a decimal value" }
        case .datetime: if case .failure = CedarDatetime.parse(text) { return "failed to parse as a datetime value" }
        case .duration: if case .failure = CedarDuration.parse(text) { return "failed to parse as a duration value" }
        default: break
        }
        return nil
    }

    private mutating func extensionCall(_ f: Function, _ args: [Expr], _ node: LocatedExpr, _ prior: Set<Capability>) -> Typed? {
        let (parameters, result) = Self.signature(f)
        var failed = false
        if args.count != parameters.count {
            report(node, "wrong number of arguments in extension function application. Expected \(parameters.count), got \(args.count)")
            failed = true
        }
        if f.isConstructor {
            if args.count == 1, case .literal(.string(let s)) = args[0], let why = Self.invalidLiteral(f, s.string) {
                report(node, "error during extension function argument validation: \(why): `\(quoteCedarString(s.string))`")
                failed = true
            }
            if !args.allSatisfy({ if case .literal = $0 { return true } else { return false } }) {
                report(node, "extension constructors may not be called with non-literal expressions")
                failed = true
            }
        }
        if failed {
            for k in node.children { _ = check(k, prior) }
            return nil
        }
        var ok = true
        for (k, p) in zip(node.children, parameters) where expect(k, prior, p.description, { $0 == p }) == nil { ok = false }
        return ok ? Typed(type: result) : nil
    }
}
