/// Boolean types with singletons: knowing `e` is always `false` lets the checker skip what
/// short-circuiting never evaluates, as Cedar's typechecker does.
enum BoolType: Hashable, Sendable {
    case any, alwaysTrue, alwaysFalse

    var negated: BoolType {
        switch self {
        case .any: return .any
        case .alwaysTrue: return .alwaysFalse
        case .alwaysFalse: return .alwaysTrue
        }
    }

    static func singleton(_ b: Bool) -> BoolType { b ? .alwaysTrue : .alwaysFalse }
}

/// The types of strict-mode validation (Cedar `validator/types.rs` with `ValidationMode::Strict`).
/// Action entities are `entity` of their action type; records are always closed.
indirect enum CedarType: Hashable, Sendable, CustomStringConvertible {
    struct Attribute: Hashable, Sendable {
        let type: CedarType
        let required: Bool
    }

    case bool(BoolType)
    case long, string
    case set(CedarType)
    case record([CedarString: Attribute])
    case entity(EntityType)
    case ipaddr, decimal, datetime, duration

    init(_ t: SchemaType) {
        switch t {
        case .bool: self = .bool(.any)
        case .long: self = .long
        case .string: self = .string
        case .set(let e): self = .set(CedarType(e))
        case .record(let r): self = CedarType(r)
        case .entity(let e): self = .entity(e)
        case .ipaddr: self = .ipaddr
        case .decimal: self = .decimal
        case .datetime: self = .datetime
        case .duration: self = .duration
        }
    }

    init(_ r: RecordType) {
        self = .record(r.attributes.mapValues { Attribute(type: CedarType($0.type), required: $0.required) })
    }

    var description: String {
        switch self {
        case .bool(.any): return "Bool"
        case .bool(.alwaysTrue): return "__cedar::internal::True"
        case .bool(.alwaysFalse): return "__cedar::internal::False"
        case .long: return "Long"
        case .string: return "String"
        case .set(let e): return "Set<\(e)>"
        case .record(let attrs):
            return "{" + attrs.keys.sorted().map { "\($0.string)\(attrs[$0]!.required ? "" : "?"): \(attrs[$0]!.type)" }.joined(separator: ", ") + "}"
        case .entity(let t): return t.description
        case .ipaddr: return "ipaddr"
        case .decimal: return "decimal"
        case .datetime: return "datetime"
        case .duration: return "duration"
        }
    }

    var entityType: EntityType? {
        if case .entity(let t) = self { return t }
        return nil
    }

    /// Strict subtyping: singletons below `Bool`, otherwise depth-only and equal entity types.
    func isSubtype(of other: CedarType) -> Bool {
        switch (self, other) {
        case (.bool(let a), .bool(let b)): return a == b || b == .any
        case (.set(let a), .set(let b)): return a.isSubtype(of: b)
        case (.record(let a), .record(let b)):
            return a.count == b.count
                && a.allSatisfy { k, x in
                    guard let y = b[k] else { return false }
                    return x.required == y.required && x.type.isSubtype(of: y.type)
                }
        default: return self == other
        }
    }

    /// Strict least upper bound; nil when the two types are incompatible (different entity
    /// types, records of different shape, or different kinds).
    static func leastUpperBound(_ a: CedarType, _ b: CedarType) -> CedarType? {
        if a.isSubtype(of: b) { return b }
        if b.isSubtype(of: a) { return a }
        switch (a, b) {
        case (.bool, .bool): return .bool(.any)
        case (.set(let x), .set(let y)): return leastUpperBound(x, y).map { .set($0) }
        case (.record(let x), .record(let y)):
            guard x.count == y.count else { return nil }
            var out: [CedarString: Attribute] = [:]
            for (k, ax) in x {
                guard let ay = y[k], ax.required == ay.required, let t = leastUpperBound(ax.type, ay.type) else { return nil }
                out[k] = Attribute(type: t, required: ax.required)
            }
            return .record(out)
        default: return nil
        }
    }
}
