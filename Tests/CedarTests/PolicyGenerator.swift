@testable import Cedar

/// Random policies, entities and requests over a small vocabulary, so that generated
/// policies often match, often error, and exercise every syntactic form.
struct PolicyGenerator {
    var rng: SeededRandom

    init(seed: UInt64) { rng = SeededRandom(seed: seed) }

    static let types = ["User", "Group", "Doc", "NS::Folder"]
    static let ids = ["a", "b", "c", "é", "e\u{301}", "q\"t", ""]
    static let attributes = ["owner", "level", "tags", "if", "name", "a b"]

    mutating func int(_ n: Int) -> Int { Int.random(in: 0..<n, using: &rng) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }

    mutating func uid() -> EntityUID {
        EntityUID(type: EntityType(CedarString(pick(Self.types))), id: CedarString(pick(Self.ids)))
    }

    mutating func action() -> EntityUID { EntityUID("Action", pick(["view", "edit", "read", "all"])) }

    mutating func string() -> CedarString {
        let alphabet: [Unicode.Scalar] = ["a", "b", "*", "\\", "\"", "\n", "\t", "\u{0}", "é", "\u{301}", "\u{1F600}", " ", "'"]
        var s = String.UnicodeScalarView()
        for _ in 0..<int(5) { s.append(pick(alphabet)) }
        return CedarString(String(s))
    }

    mutating func literal() -> Expr {
        switch int(5) {
        case 0: return .literal(.bool(chance(0.5)))
        case 1: return .literal(.long(pick([0, 1, -1, 3, Int64.max, Int64.min, 42])))
        case 2: return .literal(.string(string()))
        case 3: return .literal(.entity(uid()))
        default: return .literal(.entity(action()))
        }
    }

    mutating func expr(_ depth: Int) -> Expr {
        if depth <= 0 || chance(0.25) {
            return chance(0.5) ? .variable(pick([.principal, .action, .resource, .context])) : literal()
        }
        let d = depth - 1
        switch int(17) {
        case 0: return .not(expr(d))
        case 1: return .negate(expr(d))
        case 2: return chance(0.5) ? .and((0..<(2 + int(3))).map { _ in expr(d) }) : .or((0..<(2 + int(3))).map { _ in expr(d) })
        case 3:
            if chance(0.5) { return .multiply((0..<(2 + int(2))).map { _ in expr(d) }) }
            return .add(expr(d), (0..<(1 + int(3))).map { _ in AdditiveTerm(subtract: chance(0.5), operand: expr(d)) })
        case 4: return .ifThenElse(expr(d), expr(d), expr(d))
        case 5:
            let ops: [BinaryOperator] = [.equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .in]
            return .binary(pick(ops), expr(d), expr(d))
        case 6: return .getAttribute(expr(d), CedarString(pick(Self.attributes)))
        case 7:
            let path =
                chance(0.5) ? [CedarString(pick(Self.attributes))] : [CedarString(pick(["owner", "level", "x"])), CedarString(pick(["name", "y"]))]
            return .hasAttribute(expr(d), path)
        case 8:
            var elements: [PatternElement] = []
            for _ in 0..<int(4) { elements.append(chance(0.3) ? .wildcard : .scalar(pick(["a", "*", "é", "\"", "\\"]))) }
            return .like(expr(d), Pattern(elements))
        case 9: return .isType(expr(d), EntityType(CedarString(pick(Self.types))), in: chance(0.5) ? expr(d) : nil)
        case 10: return .set((0..<int(3)).map { _ in expr(d) })
        case 11:
            var seen = Set<CedarString>()
            var entries: [RecordEntry] = []
            for _ in 0..<int(3) {
                let k = CedarString(pick(Self.attributes))
                if seen.insert(k).inserted { entries.append(RecordEntry(key: k, value: expr(d))) }
            }
            return .record(entries)
        case 12:
            let f = pick([Function.contains, .containsAll, .containsAny, .getTag, .hasTag])
            return .call(f, [expr(d), expr(d)])
        case 13: return .call(.isEmpty, [expr(d)])
        case 14:
            let (f, arg): (Function, String) = pick([
                (.ip, "10.0.0.1"), (.ip, "10.0.0.0/8"), (.decimal, "1.5"), (.datetime, "2024-01-01"), (.duration, "1h"), (.ip, "bad"),
            ])
            return .call(f, [.literal(.string(CedarString(arg)))])
        case 15:
            let f = pick([Function.isIpv4, .isLoopback, .isInRange, .lessThan, .offset, .toDays, .toDate])
            return .call(f, (0..<f.arity).map { _ in expr(d) })
        default:
            return .getAttribute(.variable(.context), CedarString(pick(["n", "s", "flag", "set"])))
        }
    }

    mutating func entityConstraint(slot: Slot?) -> EntityConstraint {
        func reference(_ g: inout PolicyGenerator) -> EntityReference {
            if let slot, g.chance(0.5) { return .slot(slot) }
            return .uid(g.uid())
        }
        switch int(5) {
        case 0: return .any
        case 1: return .equal(reference(&self))
        case 2: return .in(reference(&self))
        case 3: return .isType(EntityType(CedarString(pick(Self.types))))
        default: return .isTypeIn(EntityType(CedarString(pick(Self.types))), reference(&self))
        }
    }

    mutating func policy(templates: Bool = false) -> Policy {
        var annotations: [Annotation] = []
        if chance(0.3) { annotations.append(Annotation(key: pick(["note", "if", "x"]), value: string())) }
        let action: ActionConstraint
        switch int(4) {
        case 0: action = .any
        case 1: action = .equal(self.action())
        case 2: action = .in(self.action())
        default: action = .inList((0..<int(3)).map { _ in self.action() })
        }
        return Policy(
            annotations: annotations,
            effect: chance(0.7) ? .permit : .forbid,
            principal: entityConstraint(slot: templates ? .principal : nil),
            action: action,
            resource: entityConstraint(slot: templates ? .resource : nil),
            conditions: (0..<int(3)).map { _ in Condition(kind: chance(0.7) ? .when : .unless, body: expr(3)) }
        )
    }

    /// An acyclic store: parents are only drawn from entities created earlier.
    mutating func entities() throws -> Entities {
        var list: [Entity] = []
        var used = Set<EntityUID>()
        for _ in 0..<12 {
            let u = uid()
            guard used.insert(u).inserted else { continue }
            let parents = (0..<int(3)).compactMap { _ in list.isEmpty ? nil : pick(list).uid }
            var attrs: [CedarString: Value] = [:]
            if chance(0.6) { attrs["owner"] = .entity(uid()) }
            if chance(0.6) { attrs["level"] = .long(Int64(int(10))) }
            if chance(0.3) { attrs["name"] = .string(string()) }
            list.append(Entity(uid: u, attributes: attrs, parents: parents, tags: chance(0.3) ? ["k": .long(1)] : [:]))
        }
        for a in ["view", "edit", "read"] {
            list.append(Entity(uid: EntityUID("Action", a), parents: chance(0.5) ? [EntityUID("Action", "all")] : []))
        }
        return try Entities(list)
    }

    mutating func request() -> Request {
        var context: [CedarString: Value] = ["n": .long(Int64(int(5)))]
        if chance(0.5) { context["flag"] = .bool(chance(0.5)) }
        if chance(0.5) { context["s"] = .string(string()) }
        return Request(principal: uid(), action: action(), resource: uid(), context: context)
    }
}
