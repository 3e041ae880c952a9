public enum Decision: String, Hashable, Sendable {
    case allow = "Allow"
    case deny = "Deny"
}

/// An error raised while evaluating one policy; that policy was skipped.
public struct PolicyEvaluationError: Hashable, Sendable {
    public let policyID: String
    public let error: EvaluationError
}

/// The authorizer's answer: the decision, the policies that determined it, and per-policy errors.
public struct Response: Hashable, Sendable {
    public let decision: Decision
    /// Satisfied permits when allowed, satisfied forbids otherwise; in policy order.
    public let reasons: [String]
    public let errors: [PolicyEvaluationError]
}

/// A policy prepared for evaluation: slots filled, conditions constant-folded.
struct CompiledPolicy: Sendable {
    let id: String
    /// The policy as written, for explanations (clause kinds, text and locations).
    let source: IdentifiedPolicy
    let effect: Effect
    let principal: EntityConstraint
    let action: ActionConstraint
    let resource: EntityConstraint
    /// Each body must be Bool; `unless` bodies are wrapped in `.not`, as Cedar desugars them.
    let conditions: [Expr]

    init(_ p: IdentifiedPolicy) {
        id = p.id
        source = p
        effect = p.policy.effect
        principal = p.policy.principal
        action = p.policy.action
        resource = p.policy.resource
        conditions = p.policy.conditions.map { c in
            let body = fold(c.body)
            return c.kind == .when ? body : .not(body)
        }
    }

    /// Scope check; it cannot error, which is why skipping non-matching policies is sound.
    @inline(__always)
    func scopeMatches(_ r: Request, _ entities: Entities) -> Bool {
        Self.matches(principal, r.principal, entities) && Self.matches(action, r.action, entities)
            && Self.matches(resource, r.resource, entities)
    }

    private static func matches(_ c: EntityConstraint, _ uid: EntityUID, _ entities: Entities) -> Bool {
        switch c {
        case .any: return true
        case .equal(.uid(let x)): return uid == x
        case .in(.uid(let x)): return entities.isDescendant(uid, of: x)
        case .isType(let t): return uid.type == t
        case .isTypeIn(let t, .uid(let x)): return uid.type == t && entities.isDescendant(uid, of: x)
        case .equal(.slot), .in(.slot), .isTypeIn(_, .slot): return false // templates are never compiled
        }
    }

    private static func matches(_ c: ActionConstraint, _ uid: EntityUID, _ entities: Entities) -> Bool {
        switch c {
        case .any: return true
        case .equal(let x): return uid == x
        case .in(let x): return entities.isDescendant(uid, of: x)
        case .inList(let xs): return xs.contains { entities.isDescendant(uid, of: $0) }
        }
    }

    /// Evaluates the policy as Cedar's `scope && c1 && c2 …` chain: true, false, or an error.
    func isSatisfied(_ evaluator: Evaluator) throws(EvaluationError) -> Bool {
        guard scopeMatches(evaluator.request, evaluator.entities) else { return false }
        do throws(ClauseError) {
            return try firstFalseCondition(evaluator) == nil
        } catch {
            throw error.error
        }
    }

    /// An error raised by one condition clause (index into `conditions`).
    struct ClauseError: Error {
        let clause: Int
        let error: EvaluationError
    }

    /// Runs the conditions in order, stopping at the first false one (its index) or error; nil
    /// when all hold. The one evaluation path for both `isAuthorized` and `explain`.
    @inline(__always)
    func firstFalseCondition(_ evaluator: Evaluator) throws(ClauseError) -> Int? {
        for (n, c) in conditions.enumerated() {
            let v: Value
            do throws(EvaluationError) { v = try evaluator.evaluate(c) } catch { throw ClauseError(clause: n, error: error) }
            guard case .bool(let b) = v else { throw ClauseError(clause: n, error: .typeError(expected: [.bool], got: v.typeName)) }
            if !b { return n }
        }
        return nil
    }

    /// The scope parts that do not match the request; empty when the scope matches.
    func scopeMismatches(_ r: Request, _ entities: Entities) -> [ScopePart] {
        var parts: [ScopePart] = []
        if !Self.matches(principal, r.principal, entities) { parts.append(.principal) }
        if !Self.matches(action, r.action, entities) { parts.append(.action) }
        if !Self.matches(resource, r.resource, entities) { parts.append(.resource) }
        return parts
    }
}

/// Folds literal-only subtrees (set and record literals, extension constructors on literal
/// strings) into values once, so requests do not rebuild them. A constructor whose literal is
/// malformed is left alone so it still errors at evaluation, as Cedar requires.
func fold(_ e: Expr) -> Expr {
    func literal(_ e: Expr) -> Value? {
        if case .literal(let v) = e { return v }
        return nil
    }
    switch e {
    case .literal, .variable: return e
    case .not(let a): return .not(fold(a))
    case .negate(let a): return .negate(fold(a))
    case .and(let xs): return .and(xs.map(fold))
    case .or(let xs): return .or(xs.map(fold))
    case .add(let first, let terms):
        return .add(fold(first), terms.map { AdditiveTerm(subtract: $0.subtract, operand: fold($0.operand)) })
    case .multiply(let xs): return .multiply(xs.map(fold))
    case .ifThenElse(let a, let b, let c): return .ifThenElse(fold(a), fold(b), fold(c))
    case .binary(let op, let a, let b): return .binary(op, fold(a), fold(b))
    case .getAttribute(let a, let n): return .getAttribute(fold(a), n)
    case .hasAttribute(let a, let p): return .hasAttribute(fold(a), p)
    case .like(let a, let p): return .like(fold(a), p)
    case .isType(let a, let t, let c): return .isType(fold(a), t, in: c.map(fold))
    case .set(let items):
        let folded = items.map(fold)
        let values = folded.compactMap(literal)
        return values.count == folded.count ? .literal(.set(Set(values))) : .set(folded)
    case .record(let entries):
        let folded = entries.map { RecordEntry(key: $0.key, value: fold($0.value)) }
        var r: [CedarString: Value] = [:]
        for entry in folded {
            guard let v = literal(entry.value) else { return .record(folded) }
            r[entry.key] = v
        }
        return .literal(.record(r))
    case .call(let f, let args):
        let folded = args.map(fold)
        if f.isConstructor, folded.count == 1, case .literal(.string)? = folded.first,
           let v = try? Extensions.apply(f, Arguments([literal(folded[0])!])) {
            return .literal(v)
        }
        return .call(f, folded)
    }
}

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
                && shares(entry.keys.2, entry.policy, 2) {
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

/// Cedar's authorizer (cedar-lean `Spec/Authorizer.lean`): Allow iff some permit is satisfied
/// and no forbid is; policies that error are skipped and reported.
public struct Authorizer: Sendable {
    static let scanThreshold = 16
    let compiled: [CompiledPolicy]
    private let index: PolicyIndex

    public init(_ set: PolicySet) {
        compiled = set.policies.map(CompiledPolicy.init)
        index = PolicyIndex(compiled)
    }

    /// Decides one request. `useIndex: false` evaluates every policy; the answer is the same
    /// (tests check this), only slower.
    public func isAuthorized(_ request: Request, entities: Entities, useIndex: Bool = true) -> Response {
        let evaluator = Evaluator(request: request, entities: entities)
        var permits: [String] = []
        var forbids: [String] = []
        var errors: [PolicyEvaluationError] = []
        func run(_ p: CompiledPolicy) {
            do throws(EvaluationError) {
                if try p.isSatisfied(evaluator) {
                    if p.effect == .permit { permits.append(p.id) } else { forbids.append(p.id) }
                }
            } catch {
                errors.append(PolicyEvaluationError(policyID: p.id, error: error))
            }
        }
        // Scanning a handful of policies is cheaper than the index lookups (measured in CedarBenchmarks).
        if useIndex && compiled.count > Self.scanThreshold {
            for n in index.candidates(request, entities) { run(compiled[Int(n)]) }
        } else {
            for p in compiled { run(p) }
        }
        return Response(permits: permits, forbids: forbids, errors: errors)
    }
}

extension Response {
    /// Cedar's decision rule: Allow iff some permit and no forbid is satisfied.
    init(permits: [String], forbids: [String], errors: [PolicyEvaluationError]) {
        if forbids.isEmpty && !permits.isEmpty {
            self.init(decision: .allow, reasons: permits, errors: errors)
        } else {
            self.init(decision: .deny, reasons: forbids, errors: errors)
        }
    }
}

extension Response {
    /// The CLI's one-line JSON form:
    /// `{"decision":"Allow","reasons":["policy0"],"errors":[{"policy":"policy1","message":"…"}]}`.
    public var jsonLine: String {
        var out = "{\"decision\":\"\(decision.rawValue)\",\"reasons\":["
        out += reasons.map(jsonQuoted).joined(separator: ",")
        out += "],\"errors\":["
        out += errors.map { "{\"policy\":\(jsonQuoted($0.policyID)),\"message\":\(jsonQuoted($0.error.description))}" }
            .joined(separator: ",")
        return out + "]}"
    }
}

extension Authorizer {
    /// Decides one request given as JSON text and renders the CLI output line; an invalid
    /// request yields `{"error":"…"}` so a batch can carry on.
    public func decideJSONLine(_ requestJSON: String, entities: Entities) -> String {
        do throws(InputError) {
            let request = try Request.fromJSON(requestJSON)
            return isAuthorized(request, entities: entities).jsonLine
        } catch {
            return "{\"error\":\(jsonQuoted(error.description))}"
        }
    }
}
