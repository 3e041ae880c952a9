/// One entity with its attributes, tags, direct parents and the precomputed ancestor set.
public struct Entity: Sendable {
    public let uid: EntityUID
    public let attributes: [CedarString: Value]
    public let tags: [CedarString: Value]
    public let parents: [EntityUID]
    /// Transitive closure of `parents`, computed once at load so `in` is a set lookup.
    public internal(set) var ancestors: Set<EntityUID>

    public init(uid: EntityUID, attributes: [CedarString: Value] = [:], parents: [EntityUID] = [], tags: [CedarString: Value] = [:]) {
        self.uid = uid
        self.attributes = attributes
        self.tags = tags
        self.parents = parents
        self.ancestors = []
    }
}

extension Entity {
    func hasSameContent(as other: Entity) -> Bool {
        attributes == other.attributes && tags == other.tags && Set(parents) == Set(other.parents)
    }
}

/// The entity store: entities by UID with transitive ancestors; immutable after construction.
public struct Entities: Sendable {
    private var storage: [EntityUID: Entity]
    /// Entities added by `withLeaves(_:)`: few, looked up before `storage`.
    private var leaves: [Entity] = []
    /// Every UID some stored entity names as a parent (a leaf must not be one of them).
    private var referencedParents: Set<EntityUID> = []

    public static let empty = Entities(validated: [:])

    private init(validated: [EntityUID: Entity]) { storage = validated }

    /// Builds the store, rejecting duplicate UIDs and parent cycles (self-parenting included).
    public init(_ entities: [Entity]) throws(InputError) {
        var map = [EntityUID: Entity](minimumCapacity: entities.count)
        for (k, e) in entities.enumerated() {
            // Cedar tolerates an exact repeat of an entity; only conflicting entries are an error.
            if let previous = map.updateValue(e, forKey: e.uid), !previous.hasSameContent(as: e) {
                throw InputError("entities[\(k)]", "duplicate entity uid `\(e.uid)` with different content")
            }
        }
        // Iterative depth-first closure (an explicit stack, so long parent chains cannot overflow
        // the call stack). Parents absent from the store contribute themselves only.
        var done = [EntityUID: Set<EntityUID>](minimumCapacity: map.count)
        var onPath = Set<EntityUID>()
        for root in map.keys where done[root] == nil {
            var stack: [(uid: EntityUID, next: Int)] = [(root, 0)]
            onPath.insert(root)
            while let top = stack.last {
                let parents = map[top.uid]!.parents
                if top.next < parents.count {
                    stack[stack.count - 1].next += 1
                    let p = parents[top.next]
                    if onPath.contains(p) { throw InputError("entities", "input graph has a cycle containing `\(p)`") }
                    if done[p] == nil, map[p] != nil {
                        stack.append((p, 0))
                        onPath.insert(p)
                    }
                } else {
                    var result = Set<EntityUID>()
                    for p in parents {
                        result.insert(p)
                        if let up = done[p] { result.formUnion(up) }
                    }
                    done[top.uid] = result
                    onPath.remove(top.uid)
                    stack.removeLast()
                }
            }
        }
        for (uid, ancestors) in done { map[uid]!.ancestors = ancestors }
        storage = map
        referencedParents = Set(map.values.lazy.flatMap(\.parents))
    }

    /// This store plus entities that nothing in it descends from, such as a request's principal
    /// and resource. Their ancestors come from the store's closure, already computed, so a
    /// shared store (roles, groups, actions) is built once and each request only adds its
    /// leaves. The result is what `Entities(storeEntities + extra)` would be.
    public func withLeaves(_ extra: [Entity]) throws(InputError) -> Entities {
        var result = self
        result.leaves.reserveCapacity(leaves.count + extra.count)
        for entity in extra {
            if let existing = result[entity.uid] {
                guard existing.hasSameContent(as: entity) else {
                    throw InputError("entities", "duplicate entity uid `\(entity.uid)` with different content")
                }
                continue
            }
            guard !referencedParents.contains(entity.uid), !extra.contains(where: { $0.parents.contains(entity.uid) }) else {
                throw InputError("entities", "`\(entity.uid)` is a parent of another entity, so it cannot be added as a leaf")
            }
            var leaf = entity
            for parent in entity.parents {
                leaf.ancestors.insert(parent)
                if let above = self[parent]?.ancestors { leaf.ancestors.formUnion(above) }
            }
            result.leaves.append(leaf)
        }
        return result
    }

    public subscript(uid: EntityUID) -> Entity? {
        for leaf in leaves where leaf.uid == uid { return leaf }
        return storage[uid]
    }

    public var count: Int { storage.count + leaves.count }

    /// Cedar `in` on entities: reflexive, else `ancestor` is among `uid`'s ancestors.
    @inline(__always)
    public func isDescendant(_ uid: EntityUID, of ancestor: EntityUID) -> Bool {
        uid == ancestor || self[uid]?.ancestors.contains(ancestor) == true
    }
}
