/// A position in a policy source: file name, 1-based line and column (in Unicode scalars).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A policy-text error, located so a reader can jump straight to it.
public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public let location: SourceLocation
    /// What went wrong, phrased as what was expected where possible.
    public let message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): error: \(message)" }
}

/// All parse errors of a policy set load; a set with any error is rejected whole.
public struct PolicySetError: Error, Sendable, CustomStringConvertible {
    public let errors: [ParseError]
    public init(_ errors: [ParseError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Why evaluating one policy failed. The policy is then skipped (it counts as not satisfied).
public enum EvaluationError: Error, Hashable, Sendable, CustomStringConvertible {
    case typeError(expected: [ValueKind], got: String)
    case overflow(operation: String, operands: [Int64])
    case entityDoesNotExist(EntityUID)
    case attributeDoesNotExist(owner: String, attribute: CedarString)
    case tagDoesNotExist(EntityUID, tag: CedarString)
    case extensionError(function: String, message: String)
    case wrongArity(function: String, expected: Int, got: Int)

    public var description: String {
        switch self {
        case .typeError(let expected, let got):
            let want =
                expected.count == 1
                ? expected[0].description
                : "one of [\(expected.map(\.description).joined(separator: ", "))]"
            return "type error: expected \(want), got \(got)"
        case .overflow(let op, let operands):
            let values = operands.map { "`\($0)`" }.joined(separator: " and ")
            return "integer overflow while attempting to \(op) the value\(operands.count > 1 ? "s" : "") \(values)"
        case .entityDoesNotExist(let uid):
            return "entity `\(uid)` does not exist"
        case .attributeDoesNotExist(let owner, let attribute):
            return "\(owner) does not have the attribute `\(attribute.string)`"
        case .tagDoesNotExist(let uid, let tag):
            return "`\(uid)` does not have the tag `\(tag.string)`"
        case .extensionError(let function, let message):
            return "error while evaluating `\(function)` extension function: \(message)"
        case .wrongArity(let function, let expected, let got):
            return "wrong number of arguments provided to extension function `\(function)`: expected \(expected), got \(got)"
        }
    }
}

/// An entities or request JSON input that cannot be loaded.
public struct InputError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where in the input (e.g. `entities[3].attrs.owner` or `line 2, column 7`).
    public let path: String
    public let message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
