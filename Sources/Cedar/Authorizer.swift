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
