import ArgumentParser
import Cedar
import Composition
import Foundation

/// `portcullis policy …`: authorize requests, validate and format Cedar policy files; the policy
/// store's commands are in `PolicyStoreCommands`.
/// Only file reading lives here; parsing and evaluation are pure functions in `Cedar`.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Cedar policies: authorize, validate, format, test, explain, diff; the policy store: push, history, show, rollback.",
        subcommands: [
            Authorize.self, Validate.self, Format.self, Test.self, Explain.self, Diff.self, ValidationCases.self,
            PolicyStoreCommands.Push.self, PolicyStoreCommands.History.self, PolicyStoreCommands.Show.self, PolicyStoreCommands.Rollback.self,
        ]
    )

    struct Authorize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decide requests: one JSON line per request on stdout.",
            discussion: "Invalid policies or entities: exit status 2 and the error on stderr."
        )

        @Option(help: "A .cedar file, or a directory whose *.cedar files are read in name order.")
        var policies: String

        @Option(help: "Cedar entities JSON file.")
        var entities: String

        @Option(help: "One request JSON file.")
        var request: String?

        @Option(help: "Requests, one JSON object per line.")
        var requests: String?

        func validate() throws {
            guard (request == nil) != (requests == nil) else {
                throw ValidationError("give exactly one of --request or --requests")
            }
        }

        func run() async throws {
            let set = try PolicyFiles.load(policies)
            let store: Entities
            do {
                store = try Entities.fromJSON(try PolicyFiles.read(entities))
            } catch let error as InputError {
                throw PolicyFiles.fail("\(entities): \(error)")
            }
            let authorizer = Authorizer(set)
            var output = StandardOutput()
            if let request {
                output.write(authorizer.decideJSONLine(try PolicyFiles.read(request), entities: store))
            } else if let requests {
                for line in jsonLines(try PolicyFiles.read(requests)) {
                    output.write(authorizer.decideJSONLine(line, entities: store))
                }
            }
            output.flush()
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check policy syntax and id uniqueness; with --schema, typecheck them as Cedar's strict validator does.",
            discussion: "Errors print as file:line:column: error: …; exit status 1 when validation fails, 2 when input cannot be read."
        )

        @Argument(help: "A .cedar file or a directory of them.")
        var path: String

        @Option(help: "Cedar schema (.cedarschema, or .json for the JSON schema format).")
        var schema: String?

        func run() async throws {
            let files = try PolicyFiles.sources(path)
            let set = try PolicyFiles.parse(files)
            if let schema {
                let parsed = try PolicyToolExit.run { try ToolPolicies.schema(schema) }
                let diagnostics = Validator(schema: parsed).validate(set)
                for diagnostic in diagnostics { print(diagnostic) }
                let errors = diagnostics.filter { $0.severity == .error }.count
                guard errors == 0 else {
                    print("failed: \(errors) error\(errors == 1 ? "" : "s") in \(set.policies.count + set.templates.count) policies")
                    throw ExitCode.failure
                }
            }
            print(
                "ok: \(set.policies.count) policies and \(set.templates.count) templates in \(files.count) file\(files.count == 1 ? "" : "s")"
                    + (schema == nil ? "" : ", valid against the schema"))
        }
    }

    /// Batch validation for `scripts/cedar_validate_differential.py`: one JSON case per input line,
    /// `{"schema", "format": "cedar"|"json", "policies"}`, one result per output line.
    struct ValidationCases: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate-cases", abstract: "Validate JSON-lines cases from stdin (differential testing).", shouldDisplay: false)

        func run() async throws {
            var output = StandardOutput()
            while let line = readLine() {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let schema = object["schema"] as? String, let policies = object["policies"] as? String
                else {
                    output.write(
                        Self.result(
                            passed: false, errors: [Self.entry("", Cedar.SourceLocation(file: "<stdin>", line: 1, column: 1), "malformed case")]))
                    continue
                }
                output.write(Self.validate(schema: schema, json: object["format"] as? String == "json", policies: policies))
            }
            output.flush()
        }

        static func validate(schema text: String, json: Bool, policies: String) -> String {
            let schema: CedarSchema
            do throws(SchemaError) {
                schema = json ? try CedarSchema.parseJSON(text, file: "<schema>") : try CedarSchema.parse(text, file: "<schema>")
            } catch {
                return result(passed: false, errors: [entry("", error.location, "schema error: \(error.message)")])
            }
            switch PolicySet.parse(policies, name: "<policies>") {
            case .failure(let failure):
                return result(passed: false, errors: failure.errors.map { entry("", $0.location, "parse error: \($0.message)") })
            case .success(let set):
                let diagnostics = Validator(schema: schema).validate(set)
                let errors = diagnostics.filter { $0.severity == .error }
                return result(
                    passed: errors.isEmpty, errors: errors.map { entry($0.policyID, $0.location, $0.message) },
                    warnings: diagnostics.filter { $0.severity == .warning }.map { entry($0.policyID, $0.location, $0.message) })
            }
        }

        static func entry(_ policy: String, _ location: Cedar.SourceLocation, _ message: String) -> String {
            let object: [String: Any] = [
                "policy": policy, "file": location.file, "line": location.line, "column": location.column,
                "message": message,
            ]
            return String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
        }

        static func result(passed: Bool, errors: [String], warnings: [String] = []) -> String {
            #"{"passed":\#(passed),"errors":[\#(errors.joined(separator: ","))],"warnings":[\#(warnings.joined(separator: ","))]}"#
        }
    }

    struct Format: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a policy file in canonical layout (comments inside a policy move above it)."
        )

        @Argument(help: "The .cedar file to format.")
        var file: String

        func run() async throws {
            let text = try PolicyFiles.read(file)
            switch PolicySet.parseFile(text, name: file) {
            case .success(let parsed): print(PolicyFormatter.format(parsed), terminator: "")
            case .failure(let error): throw PolicyFiles.fail(error.description)
            }
        }
    }
}

/// File access for the policy commands; every failure exits with status 2 and a message on stderr.
enum PolicyFiles {
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        return ExitCode(2)
    }

    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw fail("\(path): cannot read file")
        }
        // Decoded as-is: Foundation's decoder would silently drop a byte-order mark, which Cedar rejects.
        guard let text = String(validating: data, as: UTF8.self) else {
            throw fail("\(path): not valid UTF-8")
        }
        return text
    }

    /// A file, or every `*.cedar` file directly inside a directory, sorted by name.
    static func sources(_ path: String) throws -> [PolicySource] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw fail("\(path): no such file or directory")
        }
        guard isDirectory.boolValue else { return [PolicySource(name: path, text: try read(path))] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw fail("\(path): cannot list directory")
        }
        let cedarFiles = names.filter { $0.hasSuffix(".cedar") }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return try cedarFiles.map { name in
            let full = (path as NSString).appendingPathComponent(name)
            return PolicySource(name: full, text: try read(full))
        }
    }

    static func parse(_ sources: [PolicySource]) throws -> PolicySet {
        switch PolicySet.parse(sources) {
        case .success(let set): return set
        case .failure(let error): throw fail(error.description)
        }
    }

    static func load(_ path: String) throws -> PolicySet { try parse(try sources(path)) }
}

/// Buffers stdout writes so large batches are not one system call per line.
struct StandardOutput {
    private var buffer: [UInt8] = []

    mutating func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(10)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
