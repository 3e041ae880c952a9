/// An entity type: a `::`-separated path such as `NS::User`, kept as its normalized text.
public struct EntityType: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The normalized path, components joined by `::` with no whitespace.
    public let name: CedarString

    public init(_ name: CedarString) { self.name = name }
    public init(components: [String]) { self.name = CedarString(components.joined(separator: "::")) }

    /// Action UIDs must have type `Action` or `…::Action`.
    public var isActionType: Bool {
        name.string == "Action" || name.string.hasSuffix("::Action")
    }

    public static func < (l: EntityType, r: EntityType) -> Bool { l.name < r.name }
    public var description: String { name.string }
}

/// An entity reference `Type::"id"`.
public struct EntityUID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let type: EntityType
    public let id: CedarString
    /// Computed once: UIDs are hashed on every entity, ancestor and index lookup.
    private let hashCode: Int

    public init(type: EntityType, id: CedarString) {
        self.type = type
        self.id = id
        var hasher = Hasher()
        hasher.combine(type)
        hasher.combine(id)
        hashCode = hasher.finalize()
    }

    public static func == (l: EntityUID, r: EntityUID) -> Bool {
        l.hashCode == r.hashCode && l.id == r.id && l.type == r.type
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }

    /// Convenience for tests and tools: `EntityUID("User", "alice")`.
    public init(_ type: String, _ id: String) {
        self.init(type: EntityType(CedarString(type)), id: CedarString(id))
    }

    public static func < (l: EntityUID, r: EntityUID) -> Bool {
        l.type == r.type ? l.id < r.id : l.type < r.type
    }

    /// Cedar source form, e.g. `User::"alice"`, with the id escaped.
    public var description: String { "\(type.name.string)::\(quoteCedarString(id.string))" }
}

/// A runtime Cedar value.
///
/// Sets and records are Swift `Set`/`Dictionary`, whose hashes are order-independent,
/// so structural equality of nested sets (`[[]] == [[],[]]`) comes for free.
public enum Value: Hashable, Sendable {
    case bool(Bool)
    case long(Int64)
    case string(CedarString)
    case entity(EntityUID)
    case set(Set<Value>)
    case record([CedarString: Value])
    case ipaddr(IPAddress)
    case decimal(CedarDecimal)
    case datetime(CedarDatetime)
    case duration(CedarDuration)

    /// The type name used in Cedar's type-error messages.
    public var typeName: String {
        switch self {
        case .bool: return "bool"
        case .long: return "long"
        case .string: return "string"
        case .entity: return "(entity of type `\(entityTypeName)`)"
        case .set: return "set"
        case .record: return "record"
        case .ipaddr: return "ipaddr"
        case .decimal: return "decimal"
        case .datetime: return "datetime"
        case .duration: return "duration"
        }
    }

    private var entityTypeName: String {
        if case .entity(let uid) = self { return uid.type.name.string }
        return ""
    }
}

/// Kinds of value named in type errors.
public enum ValueKind: String, Sendable, CustomStringConvertible {
    case bool, long, string, entity, set, record, ipaddr, decimal, datetime, duration
    public var description: String {
        self == .entity ? "(entity of type `any_entity_type`)" : rawValue
    }
}
