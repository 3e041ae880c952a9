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
    case .and(let a, let b): return .and(fold(a), fold(b))
    case .or(let a, let b): return .or(fold(a), fold(b))
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
/// A policy is filed under every dimension its scope pins (`==`, `in`, `is … in`, `action in
/// [..]`). A request collects, per dimension, the policies filed under the request's entity or
/// one of its ancestors; a policy is a candidate only when it was found in each dimension it pins.
/// This is a necessary condition for the scope to match, so skipping the others changes nothing:
/// their scope is false and Cedar never evaluates their conditions.
struct PolicyIndex: Sendable {
    private var buckets: [[EntityUID: [Int32]]] = [[:], [:], [:]]
    /// Number of dimensions each policy is filed under (0 to 3).
    private var pinnedDimensions: [UInt8] = []
    /// Policies pinned in no dimension: always candidates.
    private var unpinned: [Int32] = []

    private static func keys(_ c: EntityConstraint) -> [EntityUID] {
        switch c {
        case .equal(.uid(let x)), .in(.uid(let x)), .isTypeIn(_, .uid(let x)): return [x]
        default: return []
        }
    }

    private static func keys(_ c: ActionConstraint) -> [EntityUID]? {
        switch c {
        case .any: return nil
        case .equal(let x), .in(let x): return [x]
        case .inList(let xs): return xs
        }
    }

    init(_ policies: [CompiledPolicy]) {
        for (n, p) in policies.enumerated() {
            var pinned: UInt8 = 0
            let dims: [[EntityUID]?] = [
                Self.keys(p.principal).nilIfEmpty, Self.keys(p.action), Self.keys(p.resource).nilIfEmpty,
            ]
            for (d, ks) in dims.enumerated() {
                guard let ks else { continue }
                pinned += 1
                // `action in []` pins the action dimension to nothing: the policy is never a candidate.
                for k in Set(ks) { buckets[d][k, default: []].append(Int32(n)) }
            }
            pinnedDimensions.append(pinned)
            if pinned == 0 { unpinned.append(Int32(n)) }
        }
    }

    /// Indices of policies whose scope may match, ascending and without duplicates.
    func candidates(_ r: Request, _ entities: Entities) -> [Int32] {
        var hits: [Int32] = []
        hits.reserveCapacity(32)
        var dimensionStart = 0
        for d in 0..<3 {
            let map = buckets[d]
            if map.isEmpty { continue }
            let uid = d == 0 ? r.principal : d == 1 ? r.action : r.resource
            if let hit = map[uid] { hits += hit }
            if let ancestors = entities[uid]?.ancestors {
                for a in ancestors { if let hit = map[a] { hits += hit } }
            }
            // Deduplicate within the dimension (a policy may be filed under several ancestors).
            dimensionStart = Self.sortUnique(&hits, from: dimensionStart)
        }
        hits += unpinned
        // Keep a policy when it was found in every dimension it pins; compact in place.
        Self.sort(&hits, from: 0)
        var w = 0, k = 0
        while k < hits.count {
            var run = 1
            while k + run < hits.count, hits[k + run] == hits[k] { run += 1 }
            if run == max(1, Int(pinnedDimensions[Int(hits[k])])) {
                hits[w] = hits[k]
                w += 1
            }
            k += run
        }
        hits.removeLast(hits.count - w)
        return hits
    }

    /// Sorts `a[from...]` in place without a temporary buffer (the ranges here are short).
    private static func sort(_ a: inout [Int32], from: Int) {
        a.withUnsafeMutableBufferPointer { b in
            guard b.count - from > 1 else { return }
            if b.count - from > 64 {
                var tail = UnsafeMutableBufferPointer(rebasing: b[from...])
                tail.sort()
                return
            }
            for i in (from + 1)..<b.count {
                let x = b[i]
                var j = i
                while j > from, b[j - 1] > x {
                    b[j] = b[j - 1]
                    j -= 1
                }
                b[j] = x
            }
        }
    }

    /// Sorts and deduplicates `a[from...]`; returns the new end.
    private static func sortUnique(_ a: inout [Int32], from: Int) -> Int {
        sort(&a, from: from)
        var w = from
        for k in from..<a.count where k == from || a[k] != a[k - 1] {
            a[w] = a[k]
            w += 1
        }
        a.removeLast(a.count - w)
        return w
    }
}

extension Array {
    fileprivate var nilIfEmpty: Self? { isEmpty ? nil : self }
}

/// Cedar's authorizer (cedar-lean `Spec/Authorizer.lean`): Allow iff some permit is satisfied
/// and no forbid is; policies that error are skipped and reported.
public struct Authorizer: Sendable {
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
        if useIndex {
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
