import ArgumentParser
import Composition
import Foundation
import Logging

/// `--config`, shared by every command that talks to the running system.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML). Default: $PORTCULLIS_CONFIG, else embedded defaults.")
    var config: String?

    @Option(
        name: .long,
        help: "Log as the services do: json or text lines at the configured level. Default for commands: warnings and errors in plain words.")
    var logFormat: String?

    /// Loads the configuration and installs logging; a bad file ends the process with exit status 2.
    /// A service logs in the configured format; a command speaks plainly unless `--log-format` is given.
    func load(service: Bool = false) throws -> (PortcullisConfiguration, Logger) {
        var requestedFormat: PortcullisConfiguration.LogSection.Format?
        if let logFormat {
            guard let format = PortcullisConfiguration.LogSection.Format(rawValue: logFormat) else {
                throw ValidationError("--log-format must be json or text")
            }
            requestedFormat = format
        }
        let path = config ?? ProcessInfo.processInfo.environment[ConfigurationEnvironment.configFile]
        let configuration: PortcullisConfiguration
        do {
            configuration = try PortcullisConfiguration.load(path: path)
        } catch {
            FileHandle.standardError.write(Data("portcullis: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if service {
            LoggingSetup.bootstrap(format: requestedFormat ?? configuration.log.format, level: configuration.log.level)
        } else {
            LoggingSetup.bootstrapCommand(requestedFormat: requestedFormat, level: configuration.log.level)
        }
        return (configuration, Logger(label: "portcullis"))
    }
}
