/// The type of a value as declared in a schema (attribute, context, tag and common types).
public indirect enum SchemaType: Hashable, Sendable, CustomStringConvertible {
    case bool, long, string
    case set(SchemaType)
    case record(RecordType)
    case entity(EntityType)
    case ipaddr, decimal, datetime, duration

    public var description: String {
        switch self {
        case .bool: return "Bool"
        case .long: return "Long"
        case .string: return "String"
        case .set(let t): return "Set<\(t)>"
        case .record(let r): return r.description
        case .entity(let t): return t.description
        case .ipaddr: return "ipaddr"
        case .decimal: return "decimal"
        case .datetime: return "datetime"
        case .duration: return "duration"
        }
    }
}

/// A record type: each attribute with its type and whether it must be present.
/// Records declared in a schema are closed: no other attributes exist.
public struct RecordType: Hashable, Sendable, CustomStringConvertible {
    public struct Attribute: Hashable, Sendable {
        public let type: SchemaType
        public let required: Bool
        public init(type: SchemaType, required: Bool) {
            self.type = type
            self.required = required
        }
    }

    public let attributes: [CedarString: Attribute]
    public init(_ attributes: [CedarString: Attribute] = [:]) { self.attributes = attributes }

    public var description: String {
        let parts = attributes.keys.sorted().map { k in
            "\(k.string)\(attributes[k]!.required ? "" : "?"): \(attributes[k]!.type)"
        }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}

/// One declared entity type, with its hierarchy already closed over.
public struct EntityTypeDefinition: Sendable {
    public let name: EntityType
    /// Declared parent types (`entity User in [Group]`).
    public let memberOf: [EntityType]
    public let attributes: RecordType
    /// The type of every tag, when the type declares `tags`.
    public let tags: SchemaType?
    /// The allowed ids of an enumerated entity type (`entity Color enum ["red"]`).
    public let enumeration: [CedarString]?
    /// Every type whose entities may be (transitively) inside an entity of this type.
    public internal(set) var descendants: Set<EntityType>
}

/// One declared action, with its hierarchy already closed over.
public struct ActionDefinition: Sendable {
    public let uid: EntityUID
    /// Declared parent action groups.
    public let memberOf: [EntityUID]
    /// Empty when the action has no `appliesTo`: it then applies to no request.
    public let principalTypes: [EntityType]
    public let resourceTypes: [EntityType]
    public let context: RecordType
    /// Every action (transitively) in this action group.
    public internal(set) var descendants: Set<EntityUID>
}

/// A schema error, located in the schema source so the author can jump to it.
public struct SchemaError: Error, Hashable, Sendable, CustomStringConvertible {
    public let location: SourceLocation
    /// What went wrong, phrased as what was expected where possible.
    public let message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): error: \(message)" }
}

/// A validated Cedar schema: every name fully qualified, common types expanded, hierarchies closed.
///
/// Built by `parse` (Cedar schema syntax) or `parseJSON` (the JSON format); both go through the
/// same resolution so the two formats mean exactly the same thing.
public struct CedarSchema: Sendable {
    public let entityTypes: [EntityType: EntityTypeDefinition]
    public let actions: [EntityUID: ActionDefinition]

    init(entityTypes: [EntityType: EntityTypeDefinition], actions: [EntityUID: ActionDefinition]) {
        self.entityTypes = entityTypes
        self.actions = actions
    }

    /// Parses Cedar schema syntax (`.cedarschema`).
    public static func parse(_ text: String, file: String = "<schema>") throws(SchemaError) -> CedarSchema {
        var parser = try SchemaParser(text: text, file: file)
        let declarations = try parser.schema()
        return try SchemaResolver(file: file).resolve(declarations)
    }

    /// Parses the JSON schema format.
    public static func parseJSON(_ text: String, file: String = "<schema>") throws(SchemaError) -> CedarSchema {
        let declarations = try SchemaJSONReader(file: file).read(text)
        return try SchemaResolver(file: file).resolve(declarations)
    }

    /// Known to the validator: declared, or an action type (whose ids are checked separately).
    func isKnownEntityType(_ t: EntityType) -> Bool { t.isActionType || entityTypes[t] != nil }

    /// Types whose entities can be `in` an entity of type `t`: its descendants and itself.
    func entityTypesIn(_ t: EntityType) -> Set<EntityType> {
        var result = entityTypes[t]?.descendants ?? []
        result.insert(t)
        return result
    }

    /// Actions `action in uids` can be true for: the listed actions and their descendants;
    /// nil when one of them is not declared.
    func actionsIn(_ uids: [EntityUID]) -> Set<EntityUID>? {
        var result = Set<EntityUID>()
        for uid in uids {
            guard let a = actions[uid] else { return nil }
            result.insert(uid)
            result.formUnion(a.descendants)
        }
        return result
    }
}
