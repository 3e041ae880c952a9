import Cedar
import Foundation
import Tokens

/// A policy set as it is shipped: its `*.cedar` files, the schema they are validated against
/// and the tests written beside them (`tests/*.yaml`). What `policy push` stores and what a
/// gateway enforces (the policy files only).
public struct PolicyBundle: Sendable, Equatable {
    /// One file of the bundle, by its name inside the directory (no path).
    public struct File: Sendable, Equatable, Codable {
        public let name: String
        public let text: String

        public init(name: String, text: String) {
            self.name = name
            self.text = text
        }
    }

    /// Policy files in name order (UTF-8 byte order, as the gateway reads a directory).
    public let policies: [File]
    /// `schema.cedarschema`, or `schema.cedarschema.json` for Cedar's JSON schema format.
    public let schema: File?
    /// Test files in name order.
    public let tests: [File]
    /// BLAKE2b-256 of the policy files' names and contents (hex).
    public let version: String

    public static let schemaNames = ["schema.cedarschema", "schema.cedarschema.json"]
    public static let testDirectory = "tests"

    /// Checks every name (bad input is refused whole) and computes the version.
    public init(policies: [File], schema: File?, tests: [File]) throws(PolicyStoreError) {
        for file in policies where !Self.isPlainName(file.name) || !file.name.hasSuffix(".cedar") {
            throw .invalidBundle("policy file name '\(file.name)': expected letters, digits, '.', '_' or '-', ending in .cedar")
        }
        for file in tests where !Self.isPlainName(file.name) || !file.name.hasSuffix(".yaml") {
            throw .invalidBundle("test file name '\(file.name)': expected letters, digits, '.', '_' or '-', ending in .yaml")
        }
        if let schema, !Self.schemaNames.contains(schema.name) {
            throw .invalidBundle("schema file name '\(schema.name)': expected \(Self.schemaNames.joined(separator: " or "))")
        }
        for (kind, files) in [("policy", policies), ("test", tests)] {
            if let repeated = Dictionary(grouping: files, by: \.name).first(where: { $0.value.count > 1 })?.key {
                throw .invalidBundle("\(kind) file '\(repeated)' is given twice")
            }
        }
        self.policies = policies.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        self.schema = schema
        self.tests = tests.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        self.version = Self.version(of: self.policies)
    }

    /// The version of a policy set: BLAKE2b-256 over each file's name and bytes, in order. A
    /// directory and the store holding the same files report the same version.
    public static func version(of policies: [File]) -> String {
        Digest.blake2b256(policies.flatMap { [Array($0.name.utf8), [0], Array($0.text.utf8), [0]] })
            .map { String(format: "%02x", $0) }.joined()
    }

    /// Parses the policy files; sources are named `origin/<file>` in error messages.
    public func parse(origin: String) -> Result<PolicySet, PolicySetError> { Self.parse(policies, origin: origin) }

    /// Parses policy files as one set, each named `origin/<file>` in error messages.
    public static func parse(_ files: [File], origin: String) -> Result<PolicySet, PolicySetError> {
        PolicySet.parse(files.map { PolicySource(name: path(origin, $0.name), text: $0.text) })
    }

    /// `origin/name`, as files are named in messages.
    public static func path(_ origin: String, _ name: String) -> String { (origin as NSString).appendingPathComponent(name) }

    /// Letters, digits, `.`, `_` and `-`, starting with a letter or digit: a name that means the
    /// same file everywhere (no path, no hidden file) and matches the store's CHECK constraint.
    private static func isPlainName(_ name: String) -> Bool {
        func alphanumeric(_ c: Unicode.Scalar) -> Bool { ("A"..."Z").contains(c) || ("a"..."z").contains(c) || ("0"..."9").contains(c) }
        guard let first = name.unicodeScalars.first, alphanumeric(first), name.utf8.count <= 200 else { return false }
        return name.unicodeScalars.allSatisfy { alphanumeric($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }
}

extension PolicyBundle {
    /// The `*.cedar` files directly inside `directory`, in name order: the policy set a gateway
    /// running from files enforces.
    public static func policyFiles(in directory: String) throws(PolicyStoreError) -> [File] {
        try files(in: directory, suffix: ".cedar", required: true)
    }

    /// The whole bundle of a directory: `*.cedar`, the schema, and `tests/*.yaml`.
    public static func read(directory: String) throws(PolicyStoreError) -> PolicyBundle {
        let policies = try policyFiles(in: directory)
        var schemas: [File] = []
        for name in schemaNames where FileManager.default.fileExists(atPath: path(directory, name)) {
            schemas.append(File(name: name, text: try read(path(directory, name))))
        }
        guard schemas.count <= 1 else {
            throw .invalidBundle("\(directory): both \(Self.schemaNames.joined(separator: " and ")) exist; keep one")
        }
        let tests = try files(in: path(directory, testDirectory), suffix: ".yaml", required: false)
        return try PolicyBundle(policies: policies, schema: schemas.first, tests: tests)
    }

    private static func files(in directory: String, suffix: String, required: Bool) throws(PolicyStoreError) -> [File] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            if required { throw .unreadable("\(directory): no such directory") }
            return []
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw .unreadable("\(directory): cannot list the directory")
        }
        var files: [File] = []
        for name in names.filter({ $0.hasSuffix(suffix) }).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            files.append(File(name: name, text: try read(path(directory, name))))
        }
        return files
    }

    private static func read(_ file: String) throws(PolicyStoreError) -> String {
        guard let data = FileManager.default.contents(atPath: file) else { throw .unreadable("\(file): cannot read the file") }
        // Decoded as-is: Foundation's decoder would silently drop a byte-order mark, which Cedar rejects.
        guard let text = String(validating: data, as: UTF8.self) else { throw .unreadable("\(file): not valid UTF-8") }
        return text
    }
}
