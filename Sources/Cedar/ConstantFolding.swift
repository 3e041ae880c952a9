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
            let v = try? Extensions.apply(f, Arguments([literal(folded[0])!]))
        {
            return .literal(v)
        }
        return .call(f, folded)
    }
}
