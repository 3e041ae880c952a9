import Foundation
import TestSupport
import Testing

/// A command a person runs prints its result on stdout and nothing else on stderr in normal use:
/// no JSON log lines, no library warnings. `--log-format json` brings the structured log back.
@Suite struct CommandOutputTests {
    @Test func commandsSpeakPlainlyAndLogOnlyWhenAsked() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let environment = ["PORTCULLIS_DATABASE_URL": url.connectionString]
            for arguments in [
                ["migrate"], ["policy", "history"], ["audit", "search", "--principal", "dana"], ["audit", "verify", "--accept-unproven"],
                ["policy", "list"],
            ] {
                // Several times: the pool's start and stop race the command's first and last query.
                for _ in 0..<3 {
                    let command = try PortcullisProcess(arguments, environment: environment)
                    #expect(try await command.wait() == 0, "portcullis \(arguments.joined(separator: " ")): \(command.standardError)")
                    #expect(command.standardError.isEmpty, "portcullis \(arguments.joined(separator: " ")) wrote to stderr: \(command.standardError)")
                }
            }
            let logged = try PortcullisProcess(["policy", "history", "--log-format", "json"], environment: environment)
            #expect(try await logged.wait() == 0)
            let lines = logged.standardError.split(separator: "\n")
            #expect(lines.contains { $0.contains(#""message":"audit writer started""#) }, "\(logged.standardError)")
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }, "\(logged.standardError)")
        }
    }
}
