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
    let effect: Effect
    let principal: EntityConstraint
    let action: ActionConstraint
    let resource: EntityConstraint
    /// Each body must be Bool; `unless` bodies are wrapped in `.not`, as Cedar desugars them.
    let conditions: [Expr]

    init(_ p: IdentifiedPolicy) {
        id = p.id
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
        for c in conditions {
            let v = try evaluator.evaluate(c)
            guard case .bool(let b) = v else { throw .typeError(expected: [.bool], got: v.typeName) }
            if !b { return false }
        }
        return true
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
/// Every UID a scope pins (`==`, `in`, `is … in`, `action in [..]`) gets a small integer key in
/// its dimension. A policy is filed under the combination of its pinned keys, one per pinned
/// dimension (several when `action in [..]` lists several). A request forms the same
/// combinations from its own entities and their ancestors and collects what is filed there. That
/// a policy shares a key with the request in each pinned dimension is necessary for its scope to
/// match, so the policies left out are exactly ones whose scope is false and whose conditions
/// Cedar never evaluates. The work per request depends on the request's ancestors, not on the
/// number of policies.
struct PolicyIndex: Sendable {
    /// Per dimension (principal, action, resource): pinned UID → key (below 2^20).
    private var keys: [[EntityUID: UInt64]] = [[:], [:], [:]]
    /// Combined key → policies filed under it. See `combine`.
    private var filed: [UInt64: [Int32]] = [:]
    /// Which combinations of pinned dimensions occur (bit d set: dimension d pinned).
    private var masks: [UInt8] = []
    /// Policies pinned in no dimension: always candidates.
    private var unpinned: [Int32] = []
    /// Set when a dimension has more distinct pinned UIDs than keys can number: every policy is
    /// then a candidate (correct, only slower).
    private var everyPolicy: [Int32]?

    private static let keyBits: UInt64 = 20

    /// Packs one key per dimension (absent dimensions as 0) plus the mask into one integer.
    @inline(__always)
    private static func combine(_ mask: UInt8, _ p: UInt64, _ a: UInt64, _ r: UInt64) -> UInt64 {
        UInt64(mask) << (3 * keyBits) | p << (2 * keyBits) | a << keyBits | r
    }

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
        var maskSet = Set<UInt8>()
        for (n, dims) in policies.map(Self.pinned).enumerated() {
            var mask: UInt8 = 0
            var perDimension: [[UInt64]] = []
            for (d, uids) in dims.enumerated() {
                guard let uids else {
                    perDimension.append([0])
                    continue
                }
                mask |= 1 << d
                var ks: [UInt64] = []
                for uid in uids {
                    if let k = keys[d][uid] {
                        ks.append(k)
                        continue
                    }
                    let k = UInt64(keys[d].count + 1)
                    guard k < 1 << Self.keyBits else {
                        everyPolicy = (0..<Int32(policies.count)).map { $0 }
                        return
                    }
                    keys[d][uid] = k
                    ks.append(k)
                }
                perDimension.append(ks)
            }
            guard mask != 0 else {
                unpinned.append(Int32(n))
                continue
            }
            maskSet.insert(mask)
            // `action in []` gives no combination: the policy can never match and is never a candidate.
            for p in perDimension[0] {
                for a in perDimension[1] {
                    for r in perDimension[2] { filed[Self.combine(mask, p, a, r), default: []].append(Int32(n)) }
                }
            }
        }
        masks = maskSet.sorted()
    }

    /// Indices of policies whose scope may match, ascending and without duplicates.
    func candidates(_ r: Request, _ entities: Entities) -> [Int32] {
        if let everyPolicy { return everyPolicy }
        var out = unpinned
        guard !masks.isEmpty else { return out }
        // The request's keys per dimension: the entity itself and its ancestors, where pinned.
        var requestKeys: [[UInt64]] = [[], [], []]
        for d in 0..<3 {
            let map = keys[d]
            if map.isEmpty { continue }
            let uid = d == 0 ? r.principal : d == 1 ? r.action : r.resource
            if let k = map[uid] { requestKeys[d].append(k) }
            if let ancestors = entities[uid]?.ancestors {
                for a in ancestors { if let k = map[a] { requestKeys[d].append(k) } }
            }
        }
        let none: [UInt64] = [0]
        for mask in masks {
            let ps = mask & 1 != 0 ? requestKeys[0] : none
            let acts = mask & 2 != 0 ? requestKeys[1] : none
            let rs = mask & 4 != 0 ? requestKeys[2] : none
            for p in ps {
                for a in acts {
                    for x in rs {
                        if let hit = filed[Self.combine(mask, p, a, x)] { out += hit }
                    }
                }
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
    private let compiled: [CompiledPolicy]
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
        if forbids.isEmpty && !permits.isEmpty {
            return Response(decision: .allow, reasons: permits, errors: errors)
        }
        return Response(decision: .deny, reasons: forbids, errors: errors)
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
