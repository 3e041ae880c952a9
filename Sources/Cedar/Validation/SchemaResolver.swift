/// Turns declarations into a `CedarSchema`: qualifies names, expands common types, closes the
/// entity and action hierarchies, and rejects undeclared or duplicate names.
///
/// Name lookup follows cedar-docs `_schema/human-readable-schema.md` ("Type name
/// disambiguation", RFC 24/70): an unqualified name `X` inside namespace `N` is, in order, the
/// common type `N::X`, the entity type `N::X`, the common type `X`, the entity type `X`, and
/// finally the built-in `__cedar::X`. Qualified names are used as written.
struct SchemaResolver {
    let file: String

    private static let builtins: [String: SchemaType] = [
        "Bool": .bool, "Long": .long, "String": .string,
        "ipaddr": .ipaddr, "decimal": .decimal, "datetime": .datetime, "duration": .duration,
    ]
    private static let extensions: Set<String> = ["ipaddr", "decimal", "datetime", "duration"]
    /// Names no common type may take (extension type names may be shadowed).
    private static let reservedTypeNames: Set<String> = ["Bool", "Boolean", "Entity", "Extension", "Long", "Record", "Set", "String"]

    private struct Declared<T> {
        let declaration: T
        let namespace: [String]
    }

    func resolve(_ namespaces: [WrittenNamespace]) throws(SchemaError) -> CedarSchema {
        var entities: [String: Declared<WrittenEntity>] = [:]
        var commons: [String: Declared<WrittenCommonType>] = [:]
        var actions: [EntityUID: Declared<WrittenAction>] = [:]
        var namedSeen: [String: SourceLocation] = [:]
        for ns in namespaces {
            if !ns.name.isEmpty {
                let key = ns.name.joined(separator: "::")
                if let first = namedSeen[key] { throw SchemaError(ns.location, "duplicate namespace `\(key)` (first declared at \(first))") }
                if ns.name.contains("__cedar") { throw SchemaError(ns.location, "the `__cedar` namespace is reserved") }
                namedSeen[key] = ns.location
            }
            for e in ns.entities {
                let q = qualify(ns.name, e.name)
                if e.name == "Action" {
                    throw SchemaError(e.location, "entity type `\(q)` cannot be declared: `Action` types are defined by action declarations")
                }
                if entities[q] != nil { throw SchemaError(e.location, "duplicate entity type `\(q)`") }
                entities[q] = Declared(declaration: e, namespace: ns.name)
            }
            for c in ns.commonTypes {
                let q = qualify(ns.name, c.name)
                if commons[q] != nil { throw SchemaError(c.location, "duplicate common type `\(q)`") }
                if Self.reservedTypeNames.contains(c.name) {
                    throw SchemaError(c.location, "`\(c.name)` is reserved and cannot name a common type")
                }
                commons[q] = Declared(declaration: c, namespace: ns.name)
            }
            for a in ns.actions {
                let uid = EntityUID(type: EntityType(CedarString(qualify(ns.name, "Action"))), id: a.name)
                if actions[uid] != nil { throw SchemaError(a.location, "duplicate action `\(uid)`") }
                actions[uid] = Declared(declaration: a, namespace: ns.name)
            }
        }
        // RFC 70: a namespaced definition may not shadow one in the empty namespace.
        for q in Set(entities.keys).union(commons.keys).sorted() where splitPath(q).count > 1 {
            let base = splitPath(q).last!
            if entities[base] != nil || commons[base] != nil {
                let at = entities[q]?.declaration.location ?? commons[q]!.declaration.location
                throw SchemaError(at, "definition of `\(q)` illegally shadows the existing definition of `\(base)`")
            }
        }
        for uid in actions.keys.sorted() where uid.type.name.string != "Action" {
            let plain = EntityUID(type: EntityType("Action"), id: uid.id)
            if actions[plain] != nil {
                throw SchemaError(
                    actions[uid]!.declaration.location, "definition of `\(uid)` illegally shadows the existing definition of `\(plain)`")
            }
        }
        let lookup = Lookup(entities: Set(entities.keys), commons: commons, file: file)

        // Every common type must resolve, used or not.
        for (_, c) in commons.sorted(by: { $0.key < $1.key }) { _ = try lookup.type(c.declaration.type, in: c.namespace) }

        var entityDefs: [EntityType: EntityTypeDefinition] = [:]
        for (q, d) in entities.sorted(by: { $0.key < $1.key }) {
            let e = d.declaration
            var parents: [EntityType] = []
            for p in e.memberOf { parents.append(try lookup.entityType(p, in: d.namespace)) }
            var tags: SchemaType?
            if let t = e.tags { tags = try lookup.type(t, in: d.namespace) }
            let name = EntityType(CedarString(q))
            entityDefs[name] = EntityTypeDefinition(
                name: name, memberOf: parents,
                attributes: try lookup.record(e.attributes, in: d.namespace),
                tags: tags, enumeration: e.enumeration, descendants: [])
        }

        var actionDefs: [EntityUID: ActionDefinition] = [:]
        for (uid, d) in actions.sorted(by: { $0.key < $1.key }) {
            let a = d.declaration
            var parents: [EntityUID] = []
            for r in a.memberOf {
                let candidates: [String]
                if let t = r.type {
                    candidates = d.namespace.isEmpty ? [t.text] : [qualify(d.namespace, t.text), t.text]
                } else {
                    candidates = [qualify(d.namespace, "Action")]
                }
                guard
                    let parent = candidates.lazy.map({ EntityUID(type: EntityType(CedarString($0)), id: r.id) }).first(where: { actions[$0] != nil })
                else {
                    throw SchemaError(
                        r.location, "undeclared action `\(candidates.last!)::\(quoteCedarString(r.id.string))` in the action group list")
                }
                parents.append(parent)
            }
            var principals: [EntityType] = []
            var resources: [EntityType] = []
            var context = RecordType()
            if let applies = a.appliesTo {
                for p in applies.principals { principals.append(try lookup.entityType(p, in: d.namespace)) }
                for r in applies.resources { resources.append(try lookup.entityType(r, in: d.namespace)) }
                if let c = applies.context {
                    guard case .record(let r) = try lookup.type(c, in: d.namespace) else {
                        throw SchemaError(a.location, "the context of action `\(uid)` must be a record type")
                    }
                    context = r
                }
            }
            actionDefs[uid] = ActionDefinition(
                uid: uid, memberOf: parents, principalTypes: principals,
                resourceTypes: resources, context: context, descendants: [])
        }

        // Entity hierarchies may be cyclic (`entity Album in Album`); action hierarchies may not.
        for (t, _) in entityDefs {
            var stack = entityDefs[t]!.memberOf
            var seen = Set<EntityType>()
            while let p = stack.popLast() {
                guard seen.insert(p).inserted else { continue }
                entityDefs[p]!.descendants.insert(t)
                stack += entityDefs[p]!.memberOf
            }
        }
        for (uid, a) in actionDefs.sorted(by: { $0.key < $1.key }) {
            var stack = a.memberOf
            var seen = Set<EntityUID>()
            while let p = stack.popLast() {
                if p == uid { throw SchemaError(actions[uid]!.declaration.location, "the action hierarchy contains a cycle through `\(uid)`") }
                guard seen.insert(p).inserted else { continue }
                actionDefs[p]!.descendants.insert(uid)
                stack += actionDefs[p]!.memberOf
            }
        }
        return CedarSchema(entityTypes: entityDefs, actions: actionDefs)
    }

    private func qualify(_ ns: [String], _ name: String) -> String {
        ns.isEmpty ? name : ns.joined(separator: "::") + "::" + name
    }

    /// Name lookup over the collected declarations.
    private struct Lookup {
        let entities: Set<String>
        let commons: [String: Declared<WrittenCommonType>]
        let file: String

        func entityType(_ n: WrittenName, in ns: [String]) throws(SchemaError) -> EntityType {
            let candidates = n.components.count == 1 && !ns.isEmpty ? [(ns + n.components).joined(separator: "::"), n.text] : [n.text]
            guard let found = candidates.first(where: entities.contains) else {
                throw SchemaError(n.location, "undeclared entity type `\(n.text)`")
            }
            return EntityType(CedarString(found))
        }

        func record(_ attributes: [WrittenAttribute], in ns: [String]) throws(SchemaError) -> RecordType {
            var expanding = Set<String>()
            return try record(attributes, in: ns, expanding: &expanding)
        }

        func type(_ t: WrittenType, in ns: [String]) throws(SchemaError) -> SchemaType {
            var expanding = Set<String>()
            return try type(t, in: ns, expanding: &expanding)
        }

        private func record(_ attributes: [WrittenAttribute], in ns: [String], expanding: inout Set<String>) throws(SchemaError) -> RecordType {
            var out: [CedarString: RecordType.Attribute] = [:]
            for a in attributes {
                // A repeated attribute replaces the earlier one, as in Cedar.
                out[a.name] = RecordType.Attribute(type: try type(a.type, in: ns, expanding: &expanding), required: a.required)
            }
            return RecordType(out)
        }

        /// `expanding` holds the common types being expanded, to reject cyclic definitions.
        private func type(_ t: WrittenType, in ns: [String], expanding: inout Set<String>) throws(SchemaError) -> SchemaType {
            switch t {
            case .long: return .long
            case .string: return .string
            case .bool: return .bool
            case .set(let e): return .set(try type(e, in: ns, expanding: &expanding))
            case .record(let attrs): return .record(try record(attrs, in: ns, expanding: &expanding))
            case .entity(let n): return .entity(try entityType(n, in: ns))
            case .extensionType(let n):
                let base = n.components.count == 2 && n.components[0] == "__cedar" ? n.components[1] : n.text
                guard SchemaResolver.extensions.contains(base) else { throw SchemaError(n.location, "unknown extension type `\(n.text)`") }
                return SchemaResolver.builtins[base]!
            case .name(let n), .commonOrBuiltin(let n):
                var entitiesToo = true
                if case .commonOrBuiltin = t { entitiesToo = false }
                if n.components.count == 2, n.components[0] == "__cedar" {
                    guard let b = SchemaResolver.builtins[n.components[1]] else { throw SchemaError(n.location, "unknown built-in type `\(n.text)`") }
                    return b
                }
                let scoped = n.components.count == 1 && !ns.isEmpty ? [(ns + n.components).joined(separator: "::")] : []
                for candidate in scoped + [n.text] {
                    if let c = commons[candidate] {
                        guard expanding.insert(candidate).inserted else {
                            throw SchemaError(n.location, "common type `\(candidate)` is defined in terms of itself")
                        }
                        defer { expanding.remove(candidate) }
                        return try type(c.declaration.type, in: c.namespace, expanding: &expanding)
                    }
                    if entitiesToo, entities.contains(candidate) { return .entity(EntityType(CedarString(candidate))) }
                }
                if n.components.count == 1, let b = SchemaResolver.builtins[n.text] { return b }
                throw SchemaError(
                    n.location, "failed to resolve type `\(n.text)`: not a common type\(entitiesToo ? ", entity type" : "") or built-in type")
            }
        }
    }
}
