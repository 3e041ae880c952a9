/// One part of a policy scope.
public enum ScopePart: String, Hashable, Sendable {
    case principal, action, resource
}

/// Why one policy did or did not take part in a decision.
public enum PolicyOutcome: Hashable, Sendable {
    /// Scope and every condition held: the policy applied (a satisfied permit or forbid).
    case satisfied
    /// The scope did not match; these parts failed (conditions were never evaluated).
    case scopeMismatch([ScopePart])
    /// The scope matched but this condition clause was false (later clauses were not evaluated).
    case conditionFalse(Clause)
    /// Evaluation failed in this clause, so Cedar skipped the policy.
    case error(Clause, EvaluationError)
}

/// A `when` or `unless` clause of a policy, as written.
public struct Clause: Hashable, Sendable, CustomStringConvertible {
    /// 1-based position among the policy's clauses.
    public let number: Int
    public let kind: Condition.Kind
    /// Where the clause's expression starts; nil for policies not parsed from text.
    public let location: SourceLocation?
    /// The clause's expression, printed in canonical form.
    public let text: String

    public var description: String { "\(kind.rawValue) { \(text) }" }
}

/// One policy's part in a decision.
public struct PolicyExplanation: Hashable, Sendable {
    public let id: String
    public let effect: Effect
    /// Where the policy starts.
    public let location: SourceLocation
    public let outcome: PolicyOutcome
}

/// A decision with the reason each policy of the set did or did not contribute to it.
public struct Explanation: Hashable, Sendable {
    /// Exactly what `isAuthorized` answers for the same request.
    public let response: Response
    /// Every policy of the set, in policy order.
    public let policies: [PolicyExplanation]
}

extension Authorizer {
    /// Decides `request` like `isAuthorized` and says, for every policy, whether it applied and
    /// if not why: which scope parts missed, which clause was false, or which clause erred.
    /// Uses the same scope matching and evaluator as `isAuthorized`, without the index, so the
    /// decision is identical (tests check this against `isAuthorized` and cedarpy).
    public func explain(_ request: Request, entities: Entities) -> Explanation {
        let evaluator = Evaluator(request: request, entities: entities)
        var permits: [String] = []
        var forbids: [String] = []
        var errors: [PolicyEvaluationError] = []
        var explained: [PolicyExplanation] = []
        explained.reserveCapacity(compiled.count)
        for p in compiled {
            let outcome: PolicyOutcome
            let mismatches = p.scopeMismatches(request, entities)
            if !mismatches.isEmpty {
                outcome = .scopeMismatch(mismatches)
            } else {
                do throws(CompiledPolicy.ClauseError) {
                    if let n = try p.firstFalseCondition(evaluator) {
                        outcome = .conditionFalse(p.clause(n))
                    } else {
                        outcome = .satisfied
                        if p.effect == .permit { permits.append(p.id) } else { forbids.append(p.id) }
                    }
                } catch {
                    outcome = .error(p.clause(error.clause), error.error)
                    errors.append(PolicyEvaluationError(policyID: p.id, error: error.error))
                }
            }
            explained.append(PolicyExplanation(id: p.id, effect: p.effect, location: p.source.location, outcome: outcome))
        }
        return Explanation(response: Response(permits: permits, forbids: forbids, errors: errors), policies: explained)
    }
}

extension CompiledPolicy {
    /// Clause `n` (0-based) as written in the source.
    func clause(_ n: Int) -> Clause {
        let condition = source.policy.conditions[n]
        // Locations are in post-order, so the whole body's start comes last.
        return Clause(
            number: n + 1, kind: condition.kind, location: condition.locations.last,
            text: PolicyFormatter.expression(condition.body))
    }
}
