import ArgumentParser
import Composition
import Foundation
import PolicyStore

/// `portcullis policy push|history|show|rollback`: the versioned policy store in the configured
/// database. Errors exit with status 1 and the reason (every finding of a refused set) on stderr.
enum PolicyStoreCommands {
    static func run(
        _ options: ConfigurationOptions, _ name: String, _ body: @escaping @Sendable (PolicyAdministration) async throws -> Void
    )
        async throws
    {
        let (configuration, logger) = try options.load()
        do {
            try await PolicyAdministration.run(configuration: configuration, logger: logger, body)
        } catch {
            FileHandle.standardError.write(Data("portcullis policy \(name): \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    static func describe(_ version: PolicyVersion) -> String {
        let time = ISO8601DateFormatter().string(from: version.createdAt)
        let rollback = version.rollbackOf.map { "\trollback of \($0)" } ?? ""
        return "\(version.number)\(version.active ? "*" : "")\t\(time)\t\(version.hash.prefix(16))\t\(version.author)\t\(version.message)\(rollback)"
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a policy directory, run its tests, and make it the active version on every gateway.",
            discussion: """
                The directory holds *.cedar files, schema.cedarschema (or schema.cedarschema.json) and optionally \
                tests/*.yaml. A set that fails to parse, has no schema, fails validation or fails a test is refused \
                and nothing changes. Gateways with policies.source: database swap to the new version when it commits.
                """)
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The policy directory.") var directory: String
        @Option(name: [.short, .customLong("message")], help: "Why this change (recorded in the history).") var message: String
        @Option(help: "Who made the change. Default: the OS account.") var author: String?

        func run() async throws {
            try await PolicyStoreCommands.run(options, "push") { [directory, message, author] administration in
                let version = try await administration.push(directory: directory, message: message, author: author)
                for warning in version.warnings { print("warning: \(warning)") }
                let tests = version.tests.files == 0 ? "no tests" : "\(version.tests.cases) test case\(version.tests.cases == 1 ? "" : "s") passed"
                print("pushed version \(version.number) (\(version.hash)); \(tests)")
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List policy versions, newest first: number (* = active), time, hash, author, message.", aliases: ["list"])
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "How many versions.") var limit = 50

        func run() async throws {
            try await PolicyStoreCommands.run(options, "history") { [limit] administration in
                for version in try await administration.versions.history(limit: limit) { print(PolicyStoreCommands.describe(version)) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a version's details and files, or write its files to a directory (--out) to edit or diff them.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Version number.") var version: Int64
        @Option(help: "Write the version's files here (created; existing files of the same names are replaced).") var out: String?

        func run() async throws {
            try await PolicyStoreCommands.run(options, "show") { [version, out] administration in
                let stored = try await administration.versions.show(version)
                let details = stored.version
                print("version \(details.number)\(details.active ? " (active)" : "")")
                print("hash: \(details.hash)")
                print("author: \(details.author)")
                print("created: \(ISO8601DateFormatter().string(from: details.createdAt))")
                print("message: \(details.message)")
                if let rollback = details.rollbackOf { print("rollback of: \(rollback)") }
                print(
                    "tests: \(details.tests.cases) case\(details.tests.cases == 1 ? "" : "s") in \(details.tests.files) file\(details.tests.files == 1 ? "" : "s")"
                )
                for warning in details.warnings { print("warning: \(warning)") }
                let files =
                    stored.bundle.policies.map { ($0.name, $0) } + (stored.bundle.schema.map { [($0.name, $0)] } ?? [])
                    + stored.bundle.tests.map { ("\(PolicyBundle.testDirectory)/\($0.name)", $0) }
                if let out {
                    try FileManager.default.createDirectory(
                        atPath: (out as NSString).appendingPathComponent(PolicyBundle.testDirectory),
                        withIntermediateDirectories: true)
                    for (path, file) in files {
                        try Data(file.text.utf8).write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent(path)), options: .atomic)
                    }
                    print("wrote \(files.count) files to \(out)")
                } else {
                    for (path, file) in files { print("\n==> \(path) <==\n\(file.text)", terminator: file.text.hasSuffix("\n") ? "" : "\n") }
                }
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an earlier version active again, as a new history entry (checked again first).")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The version to restore.") var version: Int64
        @Option(name: [.short, .customLong("message")], help: "Why. Default: \"rollback to version N\".") var message: String?
        @Option(help: "Who made the change. Default: the OS account.") var author: String?

        func run() async throws {
            try await PolicyStoreCommands.run(options, "rollback") { [version, message, author] administration in
                let restored = try await administration.rollback(to: version, message: message, author: author)
                print("version \(restored.number) restores version \(version) (\(restored.hash))")
            }
        }
    }
}
