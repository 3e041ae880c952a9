/// Schema declarations as written, before names are resolved. Both the Cedar-syntax parser and
/// the JSON reader produce these, so resolution (`SchemaResolver`) is shared by the two formats.

/// A possibly qualified name as written, e.g. `User` or `NS::User`.
struct WrittenName: Sendable {
    let components: [String]
    let location: SourceLocation
    var text: String { components.joined(separator: "::") }
}

indirect enum WrittenType: Sendable {
    /// A name to resolve as common type, then entity type, then built-in type.
    case name(WrittenName)
    /// JSON `{"type": "X"}` for a non-keyword `X`: a common type or built-in type, never an entity type.
    case commonOrBuiltin(WrittenName)
    /// JSON `{"type": "Entity", "name": …}`: an entity type only.
    case entity(WrittenName)
    /// JSON `{"type": "Extension", "name": …}`: an extension type only.
    case extensionType(WrittenName)
    /// JSON `Long`, `String`, `Boolean`: the built-in type, whatever else is declared.
    case long, string, bool
    case set(WrittenType)
    case record([WrittenAttribute])
}

struct WrittenAttribute: Sendable {
    let name: CedarString
    let type: WrittenType
    let required: Bool
    let location: SourceLocation
}

struct WrittenEntity: Sendable {
    let name: String
    let location: SourceLocation
    let memberOf: [WrittenName]
    let attributes: [WrittenAttribute]
    let tags: WrittenType?
    let enumeration: [CedarString]?
}

/// A reference to an action group: `"read"` (same namespace) or `NS::Action::"read"`.
struct WrittenActionReference: Sendable {
    let type: WrittenName?
    let id: CedarString
    let location: SourceLocation
}

struct WrittenAppliesTo: Sendable {
    let principals: [WrittenName]
    let resources: [WrittenName]
    let context: WrittenType?
}

struct WrittenAction: Sendable {
    let name: CedarString
    let location: SourceLocation
    let memberOf: [WrittenActionReference]
    let appliesTo: WrittenAppliesTo?
}

struct WrittenCommonType: Sendable {
    let name: String
    let location: SourceLocation
    let type: WrittenType
}

struct WrittenNamespace: Sendable {
    /// Empty for the empty namespace.
    let name: [String]
    let location: SourceLocation
    var entities: [WrittenEntity] = []
    var actions: [WrittenAction] = []
    var commonTypes: [WrittenCommonType] = []
}
