/// The four request variables.
public enum Variable: String, Hashable, Sendable {
    case principal, action, resource, context
}

/// Template slots; only the scope may contain them.
public enum Slot: String, Hashable, Sendable {
    case principal = "?principal"
    case resource = "?resource"
}

/// Binary operators kept in their source form (`!=`, `>`, `>=` are evaluated with the
/// semantics of their Cedar desugarings so the formatter can print what was written).
public enum BinaryOperator: String, Hashable, Sendable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessEqual = "<="
    case greater = ">"
    case greaterEqual = ">="
    case `in` = "in"
}

/// One `+ x` or `- x` step of an additive chain.
public struct AdditiveTerm: Hashable, Sendable {
    public let subtract: Bool
    public let operand: Expr
}

/// Methods and extension functions, resolved at parse time so evaluation dispatches on an enum.
public enum Function: String, Hashable, Sendable, CaseIterable {
    // Built-in methods (arity checked by the parser).
    case contains, containsAll, containsAny, isEmpty, getTag, hasTag
    // Extension constructors (called as functions).
    case ip, decimal, datetime, duration
    // Extension methods (arity checked at evaluation, as Cedar does).
    case isIpv4, isIpv6, isLoopback, isMulticast, isInRange
    case lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual
    case offset, durationSince, toDate, toTime
    case toMilliseconds, toSeconds, toMinutes, toHours, toDays

    var isBuiltinMethod: Bool {
        switch self {
        case .contains, .containsAll, .containsAny, .isEmpty, .getTag, .hasTag: return true
        default: return false
        }
    }

    var isConstructor: Bool {
        switch self {
        case .ip, .decimal, .datetime, .duration: return true
        default: return false
        }
    }

    /// Parameter count, counting the receiver of a method.
    var arity: Int {
        switch self {
        case .ip, .decimal, .datetime, .duration, .isEmpty: return 1
        case .isIpv4, .isIpv6, .isLoopback, .isMulticast, .toDate, .toTime: return 1
        case .toMilliseconds, .toSeconds, .toMinutes, .toHours, .toDays: return 1
        default: return 2
        }
    }
}

/// One element of a `like` pattern.
public enum PatternElement: Hashable, Sendable {
    case wildcard
    case scalar(Unicode.Scalar)
}

/// A `like` pattern, matched over Unicode scalars.
public struct Pattern: Hashable, Sendable {
    public let elements: [PatternElement]
    public init(_ elements: [PatternElement]) { self.elements = elements }
}

/// A record literal entry; order is kept for printing only.
public struct RecordEntry: Hashable, Sendable {
    public let key: CedarString
    public let value: Expr
}

/// A Cedar expression as written (after literal folding), used for evaluation and printing.
public indirect enum Expr: Hashable, Sendable {
    /// Bool, Long, String or entity literal; constant folding may add sets, records and extension values.
    case literal(Value)
    case variable(Variable)
    case not(Expr)
    case negate(Expr)
    /// `a && b && …`, at least two operands. Left-associative chains are kept flat (here and
    /// for `||`, `+`/`-`, `*`) so long ones never make evaluation, printing or release recurse.
    case and([Expr])
    case or([Expr])
    /// `a + b - c …`, at least one term.
    case add(Expr, [AdditiveTerm])
    /// `a * b * …`, at least two operands.
    case multiply([Expr])
    case ifThenElse(Expr, Expr, Expr)
    /// A relation: `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`.
    case binary(BinaryOperator, Expr, Expr)
    case getAttribute(Expr, CedarString)
    /// `e has a.b.c`; one component for the plain form.
    case hasAttribute(Expr, [CedarString])
    case like(Expr, Pattern)
    /// `e is T` and `e is T in E`.
    case isType(Expr, EntityType, in: Expr?)
    case set([Expr])
    case record([RecordEntry])
    /// A constructor call `ip("…")` or a method call with the receiver first in `arguments`.
    case call(Function, [Expr])
}

/// Scope constraint on `principal` or `resource`.
public enum EntityConstraint: Hashable, Sendable {
    case any
    case equal(EntityReference)
    case `in`(EntityReference)
    case isType(EntityType)
    case isTypeIn(EntityType, EntityReference)
}

/// A concrete UID, or a template slot to be filled by linking.
public enum EntityReference: Hashable, Sendable {
    case uid(EntityUID)
    case slot(Slot)
}

/// Scope constraint on `action`.
public enum ActionConstraint: Hashable, Sendable {
    case any
    case equal(EntityUID)
    case `in`(EntityUID)
    case inList([EntityUID])
}

public enum Effect: String, Hashable, Sendable {
    case permit, forbid
}

public struct Condition: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case when, unless }
    public let kind: Kind
    public let body: Expr
    /// Where each node of `body` starts, in post-order (children before parents, left to right);
    /// empty when the policy did not come from text. Lets the validator point at subexpressions.
    /// Not part of equality: the same condition written elsewhere is the same condition.
    public var locations: [SourceLocation] = []

    public static func == (l: Condition, r: Condition) -> Bool { l.kind == r.kind && l.body == r.body }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(body)
    }
}

public struct Annotation: Hashable, Sendable {
    public let key: String
    public let value: CedarString
}

/// One parsed policy or template, as written.
public struct Policy: Hashable, Sendable {
    public var annotations: [Annotation]
    public var effect: Effect
    public var principal: EntityConstraint
    public var action: ActionConstraint
    public var resource: EntityConstraint
    public var conditions: [Condition]

    /// The value of `@id`, when present.
    public var idAnnotation: String? { annotations.first { $0.key == "id" }?.value.string }

    /// Slots used in the scope; a policy with any slot is a template.
    public var slots: Set<Slot> {
        var s = Set<Slot>()
        for c in [principal, resource] {
            switch c {
            case .equal(.slot(let x)), .in(.slot(let x)), .isTypeIn(_, .slot(let x)): s.insert(x)
            default: break
            }
        }
        return s
    }
}
