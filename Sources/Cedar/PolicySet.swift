/// A named policy source, e.g. one `.cedar` file.
public struct PolicySource: Sendable {
    public let name: String
    public let text: String
    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }
}

/// A policy or template together with its id and where it was written.
public struct IdentifiedPolicy: Sendable {
    public let id: String
    public let policy: Policy
    public let location: SourceLocation
}

/// Static policies, templates, and template-linked policies, with unique ids.
///
/// Ids are the `@id` annotation where present, else `policyN`, N counting every policy and
/// template across all sources in the order given (the CLI sorts files by name).
public struct PolicySet: Sendable {
    /// Policies that take part in authorization (static and linked), in id-assignment order.
    public private(set) var policies: [IdentifiedPolicy]
    public private(set) var templates: [IdentifiedPolicy]

    public init() {
        policies = []
        templates = []
    }

    /// Parses all sources; any error anywhere rejects the whole set. Reports the first error
    /// of each source, plus duplicate ids.
    public static func parse(_ sources: [PolicySource]) -> Result<PolicySet, PolicySetError> {
        var errors: [ParseError] = []
        var all: [(Policy, SourceLocation)] = []
        for source in sources {
            do throws(ParseError) {
                var parser = try Parser(text: source.text, file: source.name)
                all += try parser.policies()
            } catch {
                errors.append(error)
            }
        }
        guard errors.isEmpty else { return .failure(PolicySetError(errors)) }
        var set = PolicySet()
        // Ids compare by Unicode scalars, like every Cedar string: "\u{e9}" and "e\u{301}" differ.
        var seen: [CedarString: SourceLocation] = [:]
        for (n, (policy, location)) in all.enumerated() {
            let id = policy.idAnnotation ?? "policy\(n)"
            if let first = seen[CedarString(id)] {
                errors.append(ParseError(location, "duplicate policy id `\(id)` (first used at \(first))"))
                continue
            }
            seen[CedarString(id)] = location
            let entry = IdentifiedPolicy(id: id, policy: policy, location: location)
            if policy.slots.isEmpty { set.policies.append(entry) } else { set.templates.append(entry) }
        }
        guard errors.isEmpty else { return .failure(PolicySetError(errors)) }
        return .success(set)
    }

    public static func parse(_ text: String, name: String = "<policies>") -> Result<PolicySet, PolicySetError> {
        parse([PolicySource(name: name, text: text)])
    }

    /// Why a template link was refused.
    public enum LinkError: Error, Hashable, Sendable, CustomStringConvertible {
        case unknownTemplate(String)
        case duplicateID(String)
        case slotMismatch(template: String, expected: [Slot], given: [Slot])

        public var description: String {
            switch self {
            case .unknownTemplate(let id): return "no template with id `\(id)`"
            case .duplicateID(let id): return "a policy with id `\(id)` already exists"
            case .slotMismatch(let t, let expected, let given):
                return
                    "template `\(t)` has slots [\(expected.map(\.rawValue).sorted().joined(separator: ", "))] but values were given for [\(given.map(\.rawValue).sorted().joined(separator: ", "))]"
            }
        }
    }

    /// Instantiates a template: each slot is replaced by the given UID, producing a static policy.
    public mutating func link(template templateID: String, newID: String, values: [Slot: EntityUID]) throws(LinkError) {
        let newKey = CedarString(newID)
        let templateKey = CedarString(templateID)
        guard let template = templates.first(where: { CedarString($0.id) == templateKey }) else { throw .unknownTemplate(templateID) }
        guard !policies.contains(where: { CedarString($0.id) == newKey }), !templates.contains(where: { CedarString($0.id) == newKey }) else {
            throw .duplicateID(newID)
        }
        let slots = template.policy.slots
        guard Set(values.keys) == slots else {
            throw .slotMismatch(template: templateID, expected: Array(slots), given: Array(values.keys))
        }
        func fill(_ c: EntityConstraint) -> EntityConstraint {
            func r(_ ref: EntityReference) -> EntityReference {
                if case .slot(let s) = ref { return .uid(values[s]!) }
                return ref
            }
            switch c {
            case .any, .isType: return c
            case .equal(let x): return .equal(r(x))
            case .in(let x): return .in(r(x))
            case .isTypeIn(let t, let x): return .isTypeIn(t, r(x))
            }
        }
        var linked = template.policy
        linked.principal = fill(linked.principal)
        linked.resource = fill(linked.resource)
        policies.append(IdentifiedPolicy(id: newID, policy: linked, location: template.location))
    }
}

/// One policy file as written: its policies plus the comments around them, for the formatter.
public struct PolicyFile: Hashable, Sendable {
    /// Comments attached to one policy.
    public struct Comments: Hashable, Sendable {
        /// Comments before the policy, and any inside it (they are printed before it).
        public var leading: [String] = []
        /// A comment after the closing `;` on the same line.
        public var trailing: String?

        public init(leading: [String] = [], trailing: String? = nil) {
            self.leading = leading
            self.trailing = trailing
        }
    }

    public var policies: [Policy]
    /// Parallel to `policies`.
    public var comments: [Comments]
    /// Comments after the last policy.
    public var trailer: [String]

    public init(policies: [Policy], comments: [Comments]? = nil, trailer: [String] = []) {
        self.policies = policies
        self.comments = comments ?? Array(repeating: Comments(), count: policies.count)
        self.trailer = trailer
    }
}

extension PolicySet {
    /// Parses one source into its policies and templates as written, with their comments.
    public static func parseFile(_ text: String, name: String) -> Result<PolicyFile, ParseError> {
        do throws(ParseError) {
            var parser = try Parser(text: text, file: name)
            let parsed = try parser.policiesWithEnds()
            var file = PolicyFile(policies: parsed.map(\.policy))
            func before(_ c: Comment, _ l: SourceLocation) -> Bool { (c.line, c.column) < (l.line, l.column) }
            var k = 0
            for c in parser.comments {
                // Advance to the first policy that has not ended before this comment.
                while k < parsed.count, !before(c, parsed[k].end) {
                    k += 1
                }
                if k > 0, c.line == parsed[k - 1].end.line, file.comments[k - 1].trailing == nil, k == parsed.count || before(c, parsed[k].start) {
                    file.comments[k - 1].trailing = c.text
                } else if k < parsed.count {
                    file.comments[k].leading.append(c.text)
                } else {
                    file.trailer.append(c.text)
                }
            }
            return .success(file)
        } catch {
            return .failure(error)
        }
    }
}
