/// One finding of validation, located in the policy source.
public struct ValidationDiagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Hashable, Sendable {
        /// The policy set is rejected (Cedar `ValidationError`).
        case error
        /// Reported but accepted, e.g. a policy that can never apply (Cedar `ValidationWarning`).
        case warning
    }

    public let severity: Severity
    public let policyID: String
    public let location: SourceLocation
    public let message: String

    public var description: String { "\(location): \(severity.rawValue): policy `\(policyID)`: \(message)" }
}

/// Cedar's strict validation (`ValidationMode::Strict`, the default of `cedar validate` and of
/// cedarpy's `validate_policies`): for every policy and template, every entity type and action
/// it names must be declared, its scope must fit some action's `appliesTo`, and its condition
/// must typecheck in every request environment the schema allows.
///
/// This catches, before deployment, the edits that would otherwise make a policy error at
/// request time and silently stop applying.
public struct Validator: Sendable {
    public let schema: CedarSchema
    private let environments: [RequestEnvironment]

    public init(schema: CedarSchema) {
        self.schema = schema
        var envs: [RequestEnvironment] = []
        for action in schema.actions.values.sorted(by: { $0.uid < $1.uid }) {
            for p in action.principalTypes {
                for r in action.resourceTypes {
                    envs.append(RequestEnvironment(principal: p, action: action.uid, resource: r, context: action.context))
                }
            }
        }
        environments = envs
    }

    /// Validates static policies, templates and template-linked policies (these as the static
    /// policies they are); the set passes when no diagnostic is an error. Policies are reported
    /// in source order.
    public func validate(_ set: PolicySet) -> [ValidationDiagnostic] {
        (set.policies + set.templates)
            .sorted { ($0.location.file, $0.location.line, $0.location.column) < ($1.location.file, $1.location.line, $1.location.column) }
            .flatMap(validate)
    }

    /// Validates one policy or template.
    public func validate(_ policy: IdentifiedPolicy) -> [ValidationDiagnostic] {
        var found: [ValidationDiagnostic] = []
        var seen = Set<ValidationDiagnostic>()
        func add(_ severity: ValidationDiagnostic.Severity, _ location: SourceLocation, _ message: String) {
            let d = ValidationDiagnostic(severity: severity, policyID: policy.id, location: location, message: message)
            if seen.insert(d).inserted { found.append(d) }
        }
        let p = policy.policy
        let bodies = p.conditions.map { LocatedExpr($0.body, locations: $0.locations, fallback: policy.location) }

        // Names: entity types, action ids and enumerated ids, wherever they occur.
        for (location, message) in checkNames(p, bodies, at: policy.location) { add(.error, location, message) }
        if !scopeFitsSomeAction(p) {
            add(.error, policy.location, "unable to find an applicable action given the policy scope constraints")
        }

        // Types, in every request environment.
        var alwaysFalse = true
        for env in environments {
            var checker = Typechecker(schema: schema, environment: env)
            let result = typecheck(p, bodies, at: policy.location, &checker)
            for e in checker.errors { add(.error, e.location, e.message) }
            if result?.type != .bool(.alwaysFalse) { alwaysFalse = false }
        }
        if alwaysFalse {
            add(.warning, policy.location, "policy is impossible: the policy expression evaluates to false for all valid requests")
        }
        return found
    }

    // MARK: Names

    private func checkNames(_ p: Policy, _ bodies: [LocatedExpr], at location: SourceLocation) -> [(SourceLocation, String)] {
        var out: [(SourceLocation, String)] = []
        func type(_ t: EntityType, _ at: SourceLocation) {
            if !schema.isKnownEntityType(t) { out.append((at, "unrecognized entity type `\(t)`")) }
        }
        func uid(_ u: EntityUID, _ at: SourceLocation) {
            type(u.type, at)
            if u.type.isActionType {
                if schema.actions[u] == nil { out.append((at, "unrecognized action `\(u)`")) }
            } else if let choices = schema.entityTypes[u.type]?.enumeration, !choices.contains(u.id) {
                out.append(
                    (at, "entity `\(u)` is of an enumerated entity type, but `\(quoteCedarString(u.id.string))` is not declared as a valid eid"))
            }
        }
        for c in [p.principal, p.resource] {
            switch c {
            case .any: break
            case .equal(let r), .in(let r): if case .uid(let u) = r { uid(u, location) }
            case .isType(let t): type(t, location)
            case .isTypeIn(let t, let r):
                type(t, location)
                if case .uid(let u) = r { uid(u, location) }
            }
        }
        switch p.action {
        case .any: break
        case .equal(let u), .in(let u): uid(u, location)
        case .inList(let us): for u in us { uid(u, location) }
        }
        var stack = bodies
        while let n = stack.popLast() {
            switch n.expr {
            case .literal(.entity(let u)): uid(u, n.location)
            case .isType(_, let t, _): type(t, n.location)
            default: break
            }
            stack += n.children.reversed()
        }
        return out
    }

    /// Cedar `validate_action_application`: some action the scope allows must apply to some
    /// principal type and some resource type the scope allows.
    private func scopeFitsSomeAction(_ p: Policy) -> Bool {
        let actions: [EntityUID]
        switch p.action {
        case .any: actions = Array(schema.actions.keys)
        case .equal(let u): actions = [u]
        case .in(let u): actions = schema.actionsIn([u]).map(Array.init) ?? []
        case .inList(let us): actions = schema.actionsIn(us).map(Array.init) ?? []
        }
        let principals = typesSatisfying(p.principal)
        let resources = typesSatisfying(p.resource)
        return actions.contains { uid in
            guard let a = schema.actions[uid] else { return false }
            return a.principalTypes.contains(where: principals.contains) && a.resourceTypes.contains(where: resources.contains)
        }
    }

    private func typesSatisfying(_ c: EntityConstraint) -> Set<EntityType> {
        let all = Set(schema.entityTypes.keys)
        switch c {
        case .any, .equal(.slot), .in(.slot): return all
        case .equal(.uid(let u)): return [u.type]
        case .in(.uid(let u)): return schema.entityTypesIn(u.type)
        case .isType(let t), .isTypeIn(let t, .slot): return all.contains(t) ? [t] : []
        case .isTypeIn(let t, .uid(let u)): return schema.entityTypesIn(u.type).contains(t) ? [t] : []
        }
    }

    // MARK: Types

    /// One conjunct of a policy's condition.
    private enum Conjunct {
        case expression(LocatedExpr)
        /// A constraint against a template slot. The slot is linked to a type that makes
        /// `==`/`in` possible (Cedar `possible_slot_links`), so the comparison is merely unknown.
        case known(BoolType)
    }

    /// Typechecks `((principal && action) && resource) && (when₁ && !unless₂ …)` as Cedar does
    /// (`Template::condition`), short-circuiting on an always-false left operand.
    private func typecheck(_ p: Policy, _ bodies: [LocatedExpr], at location: SourceLocation, _ checker: inout Typechecker) -> Typechecker.Typed? {
        let env = checker.environment
        func node(_ e: Expr) -> LocatedExpr {
            LocatedExpr(synthetic: e, at: location, children: LocatedExpr.subexpressions(e).map(node))
        }
        func scope(_ c: EntityConstraint, _ v: Variable, _ type: EntityType) -> Conjunct {
            let variable = Expr.variable(v)
            switch c {
            case .any: return .known(.alwaysTrue)
            case .equal(.slot), .in(.slot): return .known(.any)
            case .isTypeIn(let t, .slot): return .known(t == type ? .any : .alwaysFalse)
            case .equal(.uid(let u)): return .expression(node(.binary(.equal, variable, .literal(.entity(u)))))
            case .in(.uid(let u)): return .expression(node(.binary(.in, variable, .literal(.entity(u)))))
            case .isType(let t): return .expression(node(.isType(variable, t, in: nil)))
            case .isTypeIn(let t, .uid(let u)): return .expression(node(.isType(variable, t, in: .literal(.entity(u)))))
            }
        }
        let action: Conjunct
        switch p.action {
        case .any: action = .known(.alwaysTrue)
        case .equal(let u): action = .expression(node(.binary(.equal, .variable(.action), .literal(.entity(u)))))
        case .in(let u): action = .expression(node(.binary(.in, .variable(.action), .set([.literal(.entity(u))]))))
        case .inList(let us): action = .expression(node(.binary(.in, .variable(.action), .set(us.map { .literal(.entity($0)) }))))
        }
        let conditions: [Conjunct] = zip(p.conditions, bodies).map { c, body in
            c.kind == .when ? .expression(body) : .expression(LocatedExpr(synthetic: .not(c.body), at: body.location, children: [body]))
        }
        guard
            let scope = conjunction(
                [scope(p.principal, .principal, env.principal), action, scope(p.resource, .resource, env.resource)], [], &checker)
        else {
            return nil
        }
        if scope.type == .bool(.alwaysFalse) || conditions.isEmpty { return scope }
        guard let body = conjunction(conditions, scope.capabilities, &checker) else { return nil }
        return Typechecker.and(scope, body)
    }

    /// Left-nested `&&` of the conjuncts.
    private func conjunction(_ parts: [Conjunct], _ prior: Set<Capability>, _ checker: inout Typechecker) -> Typechecker.Typed? {
        var acc: Typechecker.Typed?
        for part in parts {
            if let a = acc, a.type == .bool(.alwaysFalse) { return a }
            let caps = prior.union(acc?.capabilities ?? [])
            let next: Typechecker.Typed?
            switch part {
            case .expression(let n): next = checker.expectBool(n, caps)
            case .known(let b): next = Typechecker.Typed(type: .bool(b))
            }
            guard let next else { return nil }
            acc = acc.map { Typechecker.and($0, next) } ?? next
        }
        return acc
    }
}
