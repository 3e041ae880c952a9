import ArgumentParser
import Composition
import Foundation

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending database migrations and report what was done.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let (configuration, logger) = try options.load()
        do {
            let report = try await MigrationRuntime.run(configuration: configuration, logger: logger)
            for label in report.applied { print("applied \(label)") }
            print(
                report.applied.isEmpty
                    ? "database is up to date (\(report.alreadyApplied) migrations applied earlier)"
                    : "applied \(report.applied.count) migration(s); \(report.alreadyApplied) were already applied")
        } catch {
            FileHandle.standardError.write(Data("portcullis migrate: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
