/// Maps scope-pinned entity UIDs to the policies pinned to them, so a request only evaluates
/// policies whose scope can match its principal, action and resource (or their ancestors).
///
/// Every UID a scope pins (`==`, `in`, `is … in`, `action in [..]`) gets a small integer key per
/// dimension. Each policy is filed under the keys of its rarest pinned dimension; a request looks
/// up the keys of its entities and their ancestors, takes the policies filed there, and keeps
/// those whose other pinned dimensions also share a key with the request. Sharing a key in each
/// pinned dimension is necessary for the scope to match, so the skipped policies are exactly
/// ones whose scope is false, whose conditions Cedar never evaluates.
struct PolicyIndex: Sendable {
    /// Per dimension (principal, action, resource): pinned UID → key.
    private var keys: [[EntityUID: Int32]] = [[:], [:], [:]]
    /// A filed policy with its keys in each dimension, kept beside it so that filtering reads
    /// memory in order: `-1` when that dimension needs no check (unpinned, or the dimension it is
    /// filed under), `-2` when the policy pins several keys there (then `pins` is consulted).
    private struct Filed {
        let policy: Int32
        let keys: (Int32, Int32, Int32)
    }

    /// Key → policies filed under it.
    private var filed: [[Filed]] = []
    /// Per policy and dimension, a range of `pinKeys`; a negative count means "not pinned".
    private var pins: [(start: Int32, count: Int32)] = []
    private var pinKeys: [Int32] = []
    /// Policies pinned in no dimension: always candidates.
    private var unpinned: [Int32] = []

    private static func pinned(_ c: EntityConstraint) -> [EntityUID]? {
        switch c {
        case .equal(.uid(let x)), .in(.uid(let x)), .isTypeIn(_, .uid(let x)): return [x]
        default: return nil
        }
    }

    private static func pinned(_ p: CompiledPolicy) -> [[EntityUID]?] {
        let action: [EntityUID]?
        switch p.action {
        case .any: action = nil
        case .equal(let x), .in(let x): action = [x]
        case .inList(let xs): action = Array(Set(xs))
        }
        return [pinned(p.principal), action, pinned(p.resource)]
    }

    init(_ policies: [CompiledPolicy]) {
        let all = policies.map(Self.pinned)
        var frequency: [Int] = []
        for dims in all {
            for (d, uids) in dims.enumerated() {
                for u in uids ?? [] {
                    if let k = keys[d][u] {
                        frequency[Int(k)] += 1
                    } else {
                        keys[d][u] = Int32(frequency.count)
                        frequency.append(1)
                    }
                }
            }
        }
        filed = Array(repeating: [], count: frequency.count)
        for (n, dims) in all.enumerated() {
            var best: (cost: Int, dimension: Int, keys: [Int32])?
            var inline: [Int32] = [-1, -1, -1]
            for (d, uids) in dims.enumerated() {
                guard let uids else {
                    pins.append((0, -1))
                    continue
                }
                let ks = uids.map { keys[d][$0]! }
                pins.append((Int32(pinKeys.count), Int32(ks.count)))
                pinKeys += ks
                inline[d] = ks.count == 1 ? ks[0] : -2
                let cost = ks.reduce(0) { $0 + frequency[Int($1)] }
                if best == nil || cost < best!.cost { best = (cost, d, ks) }
            }
            if let best {
                inline[best.dimension] = -1
                let entry = Filed(policy: Int32(n), keys: (inline[0], inline[1], inline[2]))
                for k in best.keys { filed[Int(k)].append(entry) }
            } else {
                unpinned.append(Int32(n))
            }
        }
    }

    /// Indices of policies whose scope may match, ascending and without duplicates.
    func candidates(_ r: Request, _ entities: Entities) -> [Int32] {
        // The request's keys, dimension by dimension: the entity itself and its ancestors.
        var requestKeys: [Int32] = []
        requestKeys.reserveCapacity(16)
        var ends = (0, 0, 0)
        for d in 0..<3 {
            let map = keys[d]
            if !map.isEmpty {
                let uid = d == 0 ? r.principal : d == 1 ? r.action : r.resource
                if let k = map[uid] { requestKeys.append(k) }
                if let ancestors = entities[uid]?.ancestors {
                    for a in ancestors { if let k = map[a] { requestKeys.append(k) } }
                }
            }
            switch d {
            case 0: ends.0 = requestKeys.count
            case 1: ends.1 = requestKeys.count
            default: ends.2 = requestKeys.count
            }
        }
        let starts = (0, ends.0, ends.1)
        func shares(_ k: Int32, _ p: Int32, _ d: Int) -> Bool {
            let lo = d == 0 ? starts.0 : d == 1 ? starts.1 : starts.2
            let hi = d == 0 ? ends.0 : d == 1 ? ends.1 : ends.2
            if k >= 0 { return requestKeys[lo..<hi].contains(k) }
            if k == -1 { return true }
            // Several pinned keys in this dimension: any one shared is enough.
            let pin = pins[Int(p) * 3 + d]
            return pinKeys[Int(pin.start)..<Int(pin.start + pin.count)].contains { requestKeys[lo..<hi].contains($0) }
        }
        // Keep a policy when each dimension it pins shares a key with the request.
        var out = unpinned
        for k in requestKeys {
            for entry in filed[Int(k)]
            where shares(entry.keys.0, entry.policy, 0) && shares(entry.keys.1, entry.policy, 1)
                && shares(entry.keys.2, entry.policy, 2)
            {
                out.append(entry.policy)
            }
        }
        Self.sortUnique(&out)
        return out
    }

    /// Sorts and deduplicates in place; insertion sort for the short lists seen per request.
    private static func sortUnique(_ a: inout [Int32]) {
        a.withUnsafeMutableBufferPointer { b in
            if b.count > 64 {
                b.sort()
            } else if b.count > 1 {
                for i in 1..<b.count {
                    let x = b[i]
                    var j = i
                    while j > 0, b[j - 1] > x {
                        b[j] = b[j - 1]
                        j -= 1
                    }
                    b[j] = x
                }
            }
        }
        var w = 0
        for k in 0..<a.count where k == 0 || a[k] != a[k - 1] {
            a[w] = a[k]
            w += 1
        }
        a.removeLast(a.count - w)
    }
}
