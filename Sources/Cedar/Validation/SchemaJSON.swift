/// Reads the JSON schema format (cedar-docs `_schema/json-schema.md`) into declarations.
///
/// The JSON reader keeps no positions inside the document, so errors after syntax carry the
/// JSON path of the offending value (e.g. `NS.entityTypes.User.shape`) and line 1, column 1.
struct SchemaJSONReader {
    let file: String

    private var start: SourceLocation { SourceLocation(file: file, line: 1, column: 1) }

    private func error(_ path: String, _ message: String) -> SchemaError {
        SchemaError(start, "\(path): \(message)")
    }

    func read(_ text: String) throws(SchemaError) -> [WrittenNamespace] {
        let json: JSON
        switch JSON.parse(text) {
        case .success(let j): json = j
        case .failure(let e):
            // The reader reports "line L, column C"; carry it over as a real location.
            throw SchemaError(location(of: e.path) ?? start, e.message)
        }
        guard case .object(let namespaces) = json else { throw error("", "expected an object of namespaces") }
        var result: [WrittenNamespace] = []
        for (name, body) in namespaces {
            let components = name.isEmpty ? [] : splitPath(name)
            guard components.allSatisfy(isIdentifier) else { throw error(name, "invalid namespace name `\(name)`") }
            result.append(try namespace(components, body, path: name))
        }
        return result
    }

    private func location(of path: String) -> SourceLocation? {
        // "line 3, column 7"
        let parts = path.split(separator: " ").map { $0.filter(\.isNumber) }
        guard parts.count == 4, let l = Int(parts[1]), let c = Int(parts[3]) else { return nil }
        return SourceLocation(file: file, line: l, column: c)
    }

    private func object(_ j: JSON, _ path: String, allowed: Set<String>) throws(SchemaError) -> [(key: String, value: JSON)] {
        guard case .object(let pairs) = j else { throw error(path, "expected an object, found \(j.kindName)") }
        for (k, _) in pairs where !allowed.contains(k) {
            throw error(path, "unknown field `\(k)`, expected one of \(allowed.sorted().map { "`\($0)`" }.joined(separator: ", "))")
        }
        return pairs
    }

    private func stringArray(_ j: JSON, _ path: String) throws(SchemaError) -> [String] {
        guard case .array(let items) = j else { throw error(path, "expected an array of strings, found \(j.kindName)") }
        var out: [String] = []
        for (k, item) in items.enumerated() {
            guard case .string(let s) = item else { throw error("\(path)[\(k)]", "expected a string, found \(item.kindName)") }
            out.append(s)
        }
        return out
    }

    private func name(_ s: String, _ path: String) throws(SchemaError) -> WrittenName {
        let components = splitPath(s)
        guard components.allSatisfy(isIdentifier) else { throw error(path, "invalid name `\(s)`") }
        return WrittenName(components: components, location: start)
    }

    private func namespace(_ name: [String], _ body: JSON, path: String) throws(SchemaError) -> WrittenNamespace {
        var ns = WrittenNamespace(name: name, location: start)
        for (key, value) in try object(body, path, allowed: ["entityTypes", "actions", "commonTypes", "annotations"]) {
            let here = "\(path).\(key)"
            if key == "annotations" {
                if name.isEmpty { throw error(here, "annotations are not allowed on the empty namespace") }
                continue
            }
            guard case .object(let decls) = value else { throw error(here, "expected an object, found \(value.kindName)") }
            switch key {
            case "entityTypes":
                for (n, d) in decls {
                    guard isIdentifier(n) else { throw error(here, "invalid entity type name `\(n)`") }
                    ns.entities.append(try entity(n, d, path: "\(here).\(n)"))
                }
            case "actions":
                for (n, d) in decls { ns.actions.append(try action(n, d, path: "\(here).\(n)")) }
            case "commonTypes":
                for (n, d) in decls {
                    guard isIdentifier(n) else { throw error(here, "invalid common type name `\(n)`") }
                    ns.commonTypes.append(WrittenCommonType(name: n, location: start, type: try type(d, path: "\(here).\(n)")))
                }
            default:
                break
            }
        }
        return ns
    }

    private func entity(_ n: String, _ d: JSON, path: String) throws(SchemaError) -> WrittenEntity {
        var parents: [WrittenName] = []
        var attributes: [WrittenAttribute] = []
        var tags: WrittenType?
        var enumeration: [CedarString]?
        for (key, value) in try object(d, path, allowed: ["memberOfTypes", "shape", "tags", "enum", "annotations"]) {
            let here = "\(path).\(key)"
            switch key {
            case "memberOfTypes":
                for (k, s) in try stringArray(value, here).enumerated() { parents.append(try name(s, "\(here)[\(k)]")) }
            case "shape":
                guard case .record(let attrs) = try type(value, path: here) else {
                    throw error(here, "an entity shape must be a record type")
                }
                attributes = attrs
            case "tags":
                tags = try type(value, path: here)
            case "enum":
                enumeration = try stringArray(value, here).map { CedarString($0) }
            default:
                break
            }
        }
        return WrittenEntity(name: n, location: start, memberOf: parents, attributes: attributes, tags: tags, enumeration: enumeration)
    }

    private func action(_ n: String, _ d: JSON, path: String) throws(SchemaError) -> WrittenAction {
        var parents: [WrittenActionReference] = []
        var appliesTo: WrittenAppliesTo?
        for (key, value) in try object(d, path, allowed: ["memberOf", "appliesTo", "attributes", "annotations"]) {
            let here = "\(path).\(key)"
            switch key {
            case "memberOf":
                guard case .array(let refs) = value else { throw error(here, "expected an array, found \(value.kindName)") }
                for (k, r) in refs.enumerated() {
                    let at = "\(here)[\(k)]"
                    var id: String?
                    var typeName: WrittenName?
                    for (rk, rv) in try object(r, at, allowed: ["id", "type"]) {
                        guard case .string(let s) = rv else { throw error("\(at).\(rk)", "expected a string, found \(rv.kindName)") }
                        if rk == "id" { id = s } else { typeName = try name(s, "\(at).type") }
                    }
                    guard let id else { throw error(at, "missing field `id`") }
                    parents.append(WrittenActionReference(type: typeName, id: CedarString(id), location: start))
                }
            case "appliesTo":
                if case .null = value { continue }
                var principals: [WrittenName] = []
                var resources: [WrittenName] = []
                var context: WrittenType?
                for (ak, av) in try object(value, here, allowed: ["principalTypes", "resourceTypes", "context"]) {
                    let at = "\(here).\(ak)"
                    switch ak {
                    case "principalTypes":
                        for (k, s) in try stringArray(av, at).enumerated() { principals.append(try name(s, "\(at)[\(k)]")) }
                    case "resourceTypes":
                        for (k, s) in try stringArray(av, at).enumerated() { resources.append(try name(s, "\(at)[\(k)]")) }
                    default:
                        context = try type(av, path: at)
                    }
                }
                appliesTo = WrittenAppliesTo(principals: principals, resources: resources, context: context)
            case "attributes":
                guard case .object(let attrs) = value, attrs.isEmpty else {
                    throw error(here, "actions cannot have attributes")
                }
            default:
                break
            }
        }
        return WrittenAction(name: CedarString(n), location: start, memberOf: parents, appliesTo: appliesTo)
    }

    private func type(_ j: JSON, path: String) throws(SchemaError) -> WrittenType {
        let fields = try object(j, path, allowed: ["type", "element", "attributes", "additionalAttributes", "name", "required", "annotations"])
        guard case .string(let kind)? = j["type"] else { throw error(path, "missing string field `type`") }
        func field(_ k: String) -> JSON? { fields.first { $0.key == k }?.value }
        switch kind {
        case "Long": return .long
        case "String": return .string
        case "Boolean": return .bool
        case "Set":
            guard let e = field("element") else { throw error(path, "a `Set` type needs an `element` type") }
            return .set(try type(e, path: "\(path).element"))
        case "Record":
            if case .bool(true)? = field("additionalAttributes") {
                throw error(path, "records with `additionalAttributes` are not supported")
            }
            var attributes: [WrittenAttribute] = []
            if let a = field("attributes") {
                guard case .object(let pairs) = a else { throw error("\(path).attributes", "expected an object, found \(a.kindName)") }
                for (n, t) in pairs {
                    let here = "\(path).attributes.\(n)"
                    var required = true
                    if let r = t["required"] {
                        guard case .bool(let b) = r else { throw error("\(here).required", "expected a boolean") }
                        required = b
                    }
                    attributes.append(WrittenAttribute(name: CedarString(n), type: try type(t, path: here), required: required, location: start))
                }
            }
            return .record(attributes)
        case "Entity", "Extension", "EntityOrCommon":
            guard case .string(let n)? = field("name") else { throw error(path, "a `\(kind)` type needs a string `name`") }
            let written = try name(n, "\(path).name")
            switch kind {
            case "Entity": return .entity(written)
            case "Extension": return .extensionType(written)
            default: return .name(written)
            }
        default:
            return .commonOrBuiltin(try name(kind, "\(path).type"))
        }
    }
}

/// `[_a-zA-Z][_a-zA-Z0-9]*`
func isIdentifier(_ s: String) -> Bool {
    guard let first = s.utf8.first, first == 95 || (first | 0x20 >= 97 && first | 0x20 <= 122) else { return false }
    return s.utf8.allSatisfy { $0 == 95 || ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) }
}

/// `A::B::C` into its components, keeping empty ones so `A::::B` is rejected as invalid.
func splitPath(_ s: String) -> [String] {
    s.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
}
