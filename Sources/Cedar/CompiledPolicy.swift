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
        case .equal(.slot), .in(.slot), .isTypeIn(_, .slot): return false  // templates are never compiled
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
