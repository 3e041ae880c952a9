/// Where in a configuration file something went wrong.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public var description: String { "\(file):\(line):\(column)" }
}

/// Why a configuration was refused. Every case names the file position and the key path,
/// so an operator can fix it without guessing; nothing of the refused file takes effect.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case syntax(SourceLocation, String)
    case unknownKey(SourceLocation, path: String, allowed: [String])
    case duplicateKey(SourceLocation, path: String)
    case wrongType(SourceLocation, path: String, expected: String)
    case invalidValue(SourceLocation, path: String, reason: String)
    case missing(SourceLocation, path: String, hint: String)
    case invalidEnvironment(variable: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            "\(file): cannot read configuration: \(reason)"
        case .syntax(let location, let problem):
            "\(location): YAML syntax error: \(problem)"
        case .unknownKey(let location, let path, let allowed):
            "\(location): unknown key '\(path)' (expected one of: \(allowed.joined(separator: ", ")))"
        case .duplicateKey(let location, let path):
            "\(location): key '\(path)' appears twice"
        case .wrongType(let location, let path, let expected):
            "\(location): '\(path)' must be \(expected)"
        case .invalidValue(let location, let path, let reason):
            "\(location): '\(path)': \(reason)"
        case .missing(let location, let path, let hint):
            "\(location): required key '\(path)' is missing (\(hint))"
        case .invalidEnvironment(let variable, let reason):
            "environment variable \(variable): \(reason)"
        }
    }
}
