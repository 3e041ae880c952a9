/// Conversion from Cedar's JSON value syntax (entities `attrs`/`tags`, request context) to values
/// (cedar.md §3.1: `__entity` and `__extn` escapes; `null` and non-integer numbers are rejected).
enum JSONValues {
    static func value(_ json: JSON, at path: String) throws(InputError) -> Value {
        switch json {
        case .null:
            throw InputError(path, "null is not a Cedar value")
        case .bool(let b):
            return .bool(b)
        case .integer(let n):
            return .long(n)
        case .otherNumber(let text):
            throw InputError(path, "`\(text)` is not a 64-bit integer; Cedar has no floating-point values")
        case .string(let s):
            return .string(CedarString(s))
        case .array(let items):
            var s = Set<Value>(minimumCapacity: items.count)
            for (k, item) in items.enumerated() { s.insert(try value(item, at: "\(path)[\(k)]")) }
            return .set(s)
        case .object(let pairs):
            // As cedar-policy reads values: a lone `__entity`/`__extn` key whose content has the
            // escape's shape is an escape (extra inner keys ignored); anything else is a record.
            if pairs.count == 1 {
                switch pairs[0].key {
                case "__entity" where typeAndID(pairs[0].value) != nil:
                    return .entity(try uid(pairs[0].value, at: "\(path).__entity"))
                case "__extn" where isExtensionShape(pairs[0].value):
                    return try extensionValue(pairs[0].value, at: "\(path).__extn")
                case "__expr":
                    throw InputError(path, "`__expr` escapes are not supported")
                default:
                    break
                }
            }
            return .record(try record(pairs, at: path))
        }
    }

    static func record(_ pairs: [(key: String, value: JSON)], at path: String) throws(InputError) -> [CedarString: Value] {
        var r = [CedarString: Value](minimumCapacity: pairs.count)
        for (k, v) in pairs { r[CedarString(k)] = try value(v, at: "\(path).\(k)") }
        return r
    }

    private static func isExtensionShape(_ json: JSON) -> Bool {
        guard case .string? = json["fn"] else { return false }
        return json["arg"] != nil || json["args"] != nil
    }

    /// `{"fn": name, "arg": v}` or `{"fn": name, "args": [..]}`, evaluated now so bad literals fail at load.
    private static func extensionValue(_ json: JSON, at path: String) throws(InputError) -> Value {
        guard case .string(let name)? = json["fn"] else { throw InputError(path, "expected a string `fn`") }
        var args: [Value] = []
        if let arg = json["arg"] {
            args.append(try value(arg, at: "\(path).arg"))
        } else if case .array(let items)? = json["args"] {
            for (n, item) in items.enumerated() { args.append(try value(item, at: "\(path).args[\(n)]")) }
        } else {
            throw InputError(path, "`args` must be an array")
        }
        guard let f = Function(rawValue: name), !f.isBuiltinMethod else {
            throw InputError(path, "`\(name)` is not an extension function")
        }
        do throws(EvaluationError) {
            return try Extensions.apply(f, Arguments(args))
        } catch {
            throw InputError(path, error.description)
        }
    }

    /// The string `type` and `id` of an object; other keys are ignored, as cedar-policy does.
    private static func typeAndID(_ json: JSON) -> (type: String, id: String)? {
        guard case .string(let type)? = json["type"], case .string(let id)? = json["id"] else { return nil }
        return (type, id)
    }

    /// An entity UID written `{"type": T, "id": I}`, optionally wrapped in `{"__entity": …}`.
    static func uid(_ json: JSON, at path: String) throws(InputError) -> EntityUID {
        if let inner = json["__entity"] { return try uid(inner, at: "\(path).__entity") }
        guard let (type, id) = typeAndID(json) else {
            throw InputError(path, "expected an entity reference with string keys `type` and `id`")
        }
        return EntityUID(type: try entityType(type, at: "\(path).type"), id: CedarString(id))
    }

    /// A normalized type path: identifiers joined by `::`, no whitespace, none reserved.
    static func entityType(_ text: String, at path: String) throws(InputError) -> EntityType {
        let components = text.split(separator: "::", omittingEmptySubsequences: false)
        for c in components {
            let b = Array(c.utf8)
            let ok =
                !b.isEmpty
                && b.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || $0 == 95 || ($0 >= 48 && $0 <= 57) }
                && !(b[0] >= 48 && b[0] <= 57)
                && !Parser.reserved.contains(String(c))
            guard ok else { throw InputError(path, "`\(text)` is not a valid entity type name") }
        }
        return EntityType(CedarString(text))
    }
}

extension Entities {
    /// Loads Cedar entities JSON: an array of `{"uid", "attrs", "parents", "tags"}` objects.
    public static func fromJSON(_ text: String) throws(InputError) -> Entities {
        let json: JSON
        switch JSON.parse(text) {
        case .success(let j): json = j
        case .failure(let e): throw e
        }
        guard case .array(let items) = json else { throw InputError("entities", "expected a JSON array of entities") }
        var list: [Entity] = []
        list.reserveCapacity(items.count)
        for (k, item) in items.enumerated() {
            let path = "entities[\(k)]"
            guard case .object = item else { throw InputError(path, "expected an object") }
            // `uid`, `attrs` and `parents` are required, `tags` optional, other keys ignored (as cedar-policy).
            guard let uidJSON = item["uid"] else { throw InputError(path, "missing `uid`") }
            let uid = try JSONValues.uid(uidJSON, at: "\(path).uid")
            guard case .object(let attrFields)? = item["attrs"] else { throw InputError(path, "missing `attrs` object") }
            let attrs = try JSONValues.record(attrFields, at: "\(path).attrs")
            var tags: [CedarString: Value] = [:]
            if let t = item["tags"] {
                guard case .object(let tagFields) = t else { throw InputError("\(path).tags", "expected an object") }
                tags = try JSONValues.record(tagFields, at: "\(path).tags")
            }
            guard case .array(let ps)? = item["parents"] else { throw InputError(path, "missing `parents` array") }
            var parents: [EntityUID] = []
            for (n, p) in ps.enumerated() { parents.append(try JSONValues.uid(p, at: "\(path).parents[\(n)]")) }
            if uid.type.isActionType, let bad = parents.first(where: { !$0.type.isActionType }) {
                throw InputError("\(path).parents", "action `\(uid)` can only have actions as parents, not `\(bad)`")
            }
            list.append(Entity(uid: uid, attributes: attrs, parents: parents, tags: tags))
        }
        return try Entities(list)
    }
}

extension Request {
    /// Parses `{"principal": E, "action": E, "resource": E, "context": {…}}`, where E is
    /// `{"type": …, "id": …}` or a string such as `User::"alice"`. Other keys are ignored.
    public static func fromJSON(_ text: String) throws(InputError) -> Request {
        let json: JSON
        switch JSON.parse(text) {
        case .success(let j): json = j
        case .failure(let e): throw e
        }
        guard case .object = json else { throw InputError("request", "expected a JSON object") }
        func entity(_ key: String) throws(InputError) -> EntityUID {
            guard let v = json[key] else { throw InputError("request", "missing `\(key)`") }
            if case .string(let s) = v {
                switch parseEntityUID(s) {
                case .success(let uid):
                    // Like Cedar, accept only the normalized spelling (no whitespace, comments or needless escapes).
                    guard uid.description == s else {
                        throw InputError("request.\(key)", "entity reference must be normalized, e.g. `\(uid)`")
                    }
                    return uid
                case .failure(let e): throw InputError("request.\(key)", "invalid entity reference: \(e.message)")
                }
            }
            return try JSONValues.uid(v, at: "request.\(key)")
        }
        let principal = try entity("principal")
        let action = try entity("action")
        let resource = try entity("resource")
        var context: [CedarString: Value] = [:]
        switch json["context"] {
        case nil: break
        case .object(let pairs)?: context = try JSONValues.record(pairs, at: "request.context")
        case let other?: throw InputError("request.context", "expected an object, found \(other.kindName)")
        }
        return Request(principal: principal, action: action, resource: resource, context: context)
    }
}
