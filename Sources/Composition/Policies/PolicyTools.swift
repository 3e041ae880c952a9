import Cedar
import Foundation

/// Why a policy tool (`policy test`, `explain`, `diff`) could not run. Each message names the
/// file and, where it applies, the line and column.
public enum PolicyToolError: Error, CustomStringConvertible {
    /// A file or directory that cannot be read.
    case unreadable(String)
    /// A test or request file with a YAML or structure error.
    case invalidFile(ConfigurationError)
    /// A policy set that does not parse.
    case invalidPolicies(directory: String, String)
    case invalidSchema(SchemaError)
    /// Validation against the schema found errors (one line each).
    case validationFailed(directory: String, [String])
    /// A request whose entities cannot be built.
    case inconsistentRequest(String)
    case auditRecordNotFound(String)

    public var description: String {
        switch self {
        case .unreadable(let reason): reason
        case .invalidFile(let error): error.description
        case .invalidPolicies(let directory, let errors): "policies in \(directory) do not parse:\n\(errors)"
        case .invalidSchema(let error): error.description
        case .validationFailed(let directory, let lines):
            "policies in \(directory) fail validation against the schema:\n" + lines.joined(separator: "\n")
        case .inconsistentRequest(let reason): "inconsistent request: \(reason)"
        case .auditRecordNotFound(let id): "no access record with request id \(id) in the audit log"
        }
    }
}

/// A policy directory loaded for the tools: parsed whole, and validated when a schema is given.
public struct ToolPolicies: Sendable {
    public let directory: String
    public let version: String
    public let set: PolicySet
    public let authorizer: Authorizer

    /// Loads `*.cedar` in `directory` (as the gateway does); with `schema`, every validation
    /// error refuses the set.
    public static func load(_ directory: String, schema: String? = nil) throws(PolicyToolError) -> ToolPolicies {
        let loaded: PolicyDirectory.Loaded
        do {
            loaded = try PolicyDirectory.load(directory)
        } catch {
            switch error {
            case .unreadable(let reason): throw .unreadable(reason)
            case .invalid(let errors): throw .invalidPolicies(directory: directory, errors.description)
            }
        }
        if let schema {
            let parsed = try Self.schema(schema)
            let errors = Validator(schema: parsed).validate(loaded.set).filter { $0.severity == .error }
            guard errors.isEmpty else { throw .validationFailed(directory: directory, errors.map(\.description)) }
        }
        return ToolPolicies(directory: directory, version: loaded.version, set: loaded.set, authorizer: Authorizer(loaded.set))
    }

    /// A Cedar schema file: `.json` in the JSON schema format, anything else in Cedar syntax.
    public static func schema(_ path: String) throws(PolicyToolError) -> CedarSchema {
        let text = try readText(path)
        do throws(SchemaError) {
            return path.hasSuffix(".json") ? try CedarSchema.parseJSON(text, file: path) : try CedarSchema.parse(text, file: path)
        } catch {
            throw .invalidSchema(error)
        }
    }
}

func readText(_ path: String) throws(PolicyToolError) -> String {
    guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable("\(path): cannot read the file") }
    guard let text = String(validating: data, as: UTF8.self) else { throw .unreadable("\(path): not valid UTF-8") }
    return text
}
