import ArgumentParser
import Composition
import Foundation
import Logging

/// `--config`, shared by every command that talks to the running system.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML). Default: $PORTCULLIS_CONFIG, else embedded defaults.")
    var config: String?

    /// Loads the configuration and installs logging; a bad file ends the process with exit status 2.
    func load() throws -> (PortcullisConfiguration, Logger) {
        let path = config ?? ProcessInfo.processInfo.environment[ConfigurationEnvironment.configFile]
        let configuration: PortcullisConfiguration
        do {
            configuration = try PortcullisConfiguration.load(path: path)
        } catch {
            FileHandle.standardError.write(Data("portcullis: \(error)\n".utf8))
            throw ExitCode(2)
        }
        LoggingSetup.bootstrap(format: configuration.log.format, level: configuration.log.level)
        return (configuration, Logger(label: "portcullis"))
    }
}
