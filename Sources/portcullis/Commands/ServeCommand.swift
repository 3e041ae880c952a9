import ArgumentParser
import Composition

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the Portcullis services until SIGINT or SIGTERM.")

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "Benchmark only: discard every audit event, to measure what recording costs. The process then reports not ready on /readyz.")
    var benchmarkWithoutAudit = false

    func run() async throws {
        let (configuration, logger) = try options.load(service: true)
        do {
            try await ServeRuntime.run(
                configuration: configuration, logger: logger,
                auditMode: benchmarkWithoutAudit ? .discardForBenchmark : .record)
        } catch let error as ConfigurationError {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(2)
        } catch {
            // A service that failed (a listener that could not bind, say) ends the whole group; say
            // which error in the log, where operators look, rather than only on standard error.
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}
