import Yams

/// Reads one YAML mapping of the configuration, keeping track of the keys it consumed so
/// that `finish()` can reject every key nobody asked for (a misspelt key must not be ignored).
struct MappingReader {
    let path: String
    let file: String
    /// Where the mapping itself starts, for errors about the mapping as a whole.
    let location: SourceLocation
    private var entries: [(key: String, keyNode: Node, value: Node)] = []
    private var consumed: Set<String> = []

    init(_ node: Node, path: String, file: String) throws(ConfigurationError) {
        self.path = path
        self.file = file
        self.location = Self.location(of: node, file: file)
        guard case .mapping(let mapping) = node else {
            throw .wrongType(location, path: path.isEmpty ? "(top level)" : path, expected: "a mapping of keys to values")
        }
        var seen = Set<String>()
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                throw .wrongType(Self.location(of: keyNode, file: file), path: path, expected: "a mapping with plain string keys")
            }
            guard seen.insert(key.string).inserted else {
                throw .duplicateKey(Self.location(of: keyNode, file: file), path: join(key.string))
            }
            entries.append((key.string, keyNode, value))
        }
    }

    /// The mapping's keys in file order (for mappings whose keys are data, e.g. `role_parents`).
    var keys: [String] { entries.map(\.key) }

    static func location(of node: Node, file: String) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    func join(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private mutating func take(_ key: String) -> Node? {
        consumed.insert(key)
        guard let entry = entries.first(where: { $0.key == key }) else { return nil }
        if case .scalar(let scalar) = entry.value, scalar.tag == .init(.null) { return nil }
        return entry.value
    }

    private mutating func scalar(_ key: String, expected: String) throws(ConfigurationError) -> (String, SourceLocation)? {
        guard let node = take(key) else { return nil }
        guard case .scalar(let scalar) = node else {
            throw .wrongType(Self.location(of: node, file: file), path: join(key), expected: expected)
        }
        return (scalar.string, Self.location(of: node, file: file))
    }

    mutating func string(_ key: String) throws(ConfigurationError) -> String? {
        try scalar(key, expected: "a string")?.0
    }

    /// A sequence of strings; a single string is accepted as a one-element list.
    mutating func strings(_ key: String) throws(ConfigurationError) -> [String]? {
        guard let node = take(key) else { return nil }
        switch node {
        case .scalar(let scalar):
            return [scalar.string]
        case .sequence(let sequence):
            var values: [String] = []
            for item in sequence {
                guard case .scalar(let scalar) = item else {
                    throw .wrongType(Self.location(of: item, file: file), path: join(key), expected: "a list of strings")
                }
                values.append(scalar.string)
            }
            return values
        default:
            throw .wrongType(Self.location(of: node, file: file), path: join(key), expected: "a list of strings")
        }
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let (text, location) = try scalar(key, expected: "an integer") else { return nil }
        guard let value = Int(text) else { throw .wrongType(location, path: join(key), expected: "an integer") }
        guard range.contains(value) else {
            throw .invalidValue(location, path: join(key), reason: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    mutating func boolean(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let (text, location) = try scalar(key, expected: "true or false") else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default: throw .wrongType(location, path: join(key), expected: "true or false")
        }
    }

    mutating func duration(_ key: String) throws(ConfigurationError) -> Duration? {
        guard let (text, location) = try scalar(key, expected: "a duration such as 500ms, 5s, 10m or 1h") else { return nil }
        guard let value = DurationText.parse(text) else {
            throw .wrongType(location, path: join(key), expected: "a duration such as 500ms, 5s, 10m or 1h")
        }
        return value
    }

    mutating func choice<Value: RawRepresentable & CaseIterable>(
        _ key: String, of type: Value.Type
    ) throws(ConfigurationError) -> Value? where Value.RawValue == String {
        let options = Value.allCases.map(\.rawValue).joined(separator: ", ")
        guard let (text, location) = try scalar(key, expected: "one of \(options)") else { return nil }
        guard let value = Value(rawValue: text) else {
            throw .invalidValue(location, path: join(key), reason: "'\(text)' is not one of \(options)")
        }
        return value
    }

    /// Parses a scalar with a custom parser that names what is wrong.
    mutating func parsed<Value>(
        _ key: String, expected: String, _ parse: (String) throws -> Value
    ) throws(ConfigurationError) -> Value? {
        guard let (text, location) = try scalar(key, expected: expected) else { return nil }
        do {
            return try parse(text)
        } catch {
            throw .invalidValue(location, path: join(key), reason: "\(error)")
        }
    }

    /// A sequence of mappings (e.g. `gateway.routes`), each read with its index in the path.
    mutating func mappings(_ key: String) throws(ConfigurationError) -> [MappingReader]? {
        guard let node = take(key) else { return nil }
        guard case .sequence(let sequence) = node else {
            throw .wrongType(Self.location(of: node, file: file), path: join(key), expected: "a list of mappings")
        }
        var readers: [MappingReader] = []
        for (index, item) in sequence.enumerated() {
            readers.append(try MappingReader(item, path: "\(join(key))[\(index)]", file: file))
        }
        return readers
    }

    /// Every remaining key of this mapping as a string (e.g. route `labels`); marks all consumed.
    mutating func stringValues() throws(ConfigurationError) -> [String: String] {
        var values: [String: String] = [:]
        for entry in entries {
            consumed.insert(entry.key)
            guard case .scalar(let scalar) = entry.value else {
                throw .wrongType(Self.location(of: entry.value, file: file), path: join(entry.key), expected: "a string")
            }
            values[entry.key] = scalar.string
        }
        return values
    }

    /// Every remaining key of this mapping as a list of strings (e.g. a group mapping); marks all consumed.
    mutating func stringListValues() throws(ConfigurationError) -> [String: (values: [String], location: SourceLocation)] {
        var values: [String: (values: [String], location: SourceLocation)] = [:]
        for entry in entries {
            values[entry.key] = (try strings(entry.key) ?? [], Self.location(of: entry.value, file: file))
        }
        return values
    }

    /// The location of a key's value, for errors found after reading (e.g. an invalid route).
    func location(of key: String) -> SourceLocation {
        entries.first { $0.key == key }.map { Self.location(of: $0.value, file: file) } ?? location
    }

    mutating func mapping(_ key: String) throws(ConfigurationError) -> MappingReader? {
        guard let node = take(key) else { return nil }
        return try MappingReader(node, path: join(key), file: file)
    }

    /// The error for a required key that neither the file nor the environment supplied.
    func missing(_ key: String, hint: String) -> ConfigurationError {
        .missing(location, path: join(key), hint: hint)
    }

    func finish() throws(ConfigurationError) {
        let allowed = consumed.sorted()
        for entry in entries where !consumed.contains(entry.key) {
            throw .unknownKey(Self.location(of: entry.keyNode, file: file), path: join(entry.key), allowed: allowed)
        }
    }
}

/// `500ms`, `5s`, `10m`, `1h`, `2d`: the one duration syntax of Portcullis configuration.
enum DurationText {
    static func parse(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy(\.isASCII), let value = Int64(number), value >= 0,
                value <= Int64.max / milliseconds
            else { continue }
            return .milliseconds(value * milliseconds)
        }
        return nil
    }
}
