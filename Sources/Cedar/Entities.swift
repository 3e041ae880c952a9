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
    }

    public subscript(uid: EntityUID) -> Entity? { storage[uid] }

    public var count: Int { storage.count }

    /// Cedar `in` on entities: reflexive, else `ancestor` is among `uid`'s ancestors.
    @inline(__always)
    public func isDescendant(_ uid: EntityUID, of ancestor: EntityUID) -> Bool {
        uid == ancestor || storage[uid]?.ancestors.contains(ancestor) == true
    }
}
