import Foundation
import TestSupport
import Testing

/// The command line as a person explores it: `--help` at every level. Every subcommand a
/// command's overview names (`Manage roles: add, grant, revoke, list.`) must exist, and every
/// listed subcommand must answer its own `--help`.
@Suite struct CommandLineHelpTests {
    @Test func everySubcommandTheHelpNamesExists() async throws {
        var pending: [[String]] = [[]]
        var visited: [String] = []
        while let path = pending.popLast() {
            let help = try await Self.help(path)
            visited.append(path.joined(separator: " "))
            let subcommands = Self.subcommands(in: help)
            for promised in Self.promisedSubcommands(in: help) where !subcommands.contains(promised) {
                Issue.record(
                    "'portcullis \(path.joined(separator: " "))' promises '\(promised)', which is no subcommand (it has \(subcommands.sorted()))")
            }
            for name in subcommands.subtracting(Self.aliases(in: help)) where name != "help" { pending.append(path + [name]) }
        }
        #expect(visited.contains("group") && visited.contains("group add-member"), "\(visited)")
        #expect(visited.count > 40, "\(visited)")
    }

    @Test func aPromisedAliasWorks() async throws {
        let help = try await Self.help(["policy", "list"])
        #expect(help.contains("List policy versions"))
    }

    /// `portcullis PATH --help`, which must succeed.
    static func help(_ path: [String]) async throws -> String {
        let process = try PortcullisProcess(path + ["--help"])
        let status = try await process.wait()
        guard status == 0 else {
            throw PortcullisProcess.Failure(
                description: "portcullis \(path.joined(separator: " ")) --help exited \(status): \(process.standardError)")
        }
        return process.standardOutput
    }

    /// The names (aliases included) in the SUBCOMMANDS section.
    static func subcommands(in help: String) -> Set<String> {
        Set(subcommandEntries(in: help).flatMap { $0 })
    }

    /// Names listed after the first on a subcommand's line: aliases, not commands of their own.
    static func aliases(in help: String) -> Set<String> {
        Set(subcommandEntries(in: help).flatMap { $0.dropFirst() })
    }

    private static func subcommandEntries(in help: String) -> [[String]] {
        guard let section = help.range(of: "SUBCOMMANDS:\n") else { return [] }
        return help[section.upperBound...].split(separator: "\n").compactMap { line -> [String]? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), !line.contains("See '") else { return nil }
            let names = line.dropFirst(2).components(separatedBy: "  ").first ?? ""
            return names.replacingOccurrences(of: " (default)", with: "").components(separatedBy: ", ").filter { !$0.isEmpty }
        }
    }

    /// The subcommands an OVERVIEW enumerates: in each `;`-separated part, the comma-separated
    /// words after its colon.
    static func promisedSubcommands(in help: String) -> [String] {
        guard help.contains("SUBCOMMANDS:"), let start = help.range(of: "OVERVIEW: ") else { return [] }
        let overview = help[start.upperBound...].components(separatedBy: "\n\n").first?.replacingOccurrences(of: "\n", with: " ") ?? ""
        return overview.split(separator: ";").flatMap { part -> [String] in
            guard let colon = part.firstIndex(of: ":") else { return [] }
            return part[part.index(after: colon)...].split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "."))
            }
        }
    }
}
