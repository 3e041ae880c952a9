import Logging

/// Installs the process-wide log handler once. Services (`serve`, `up`) log structured lines
/// for machines; a command a person runs says only what that person needs, in words.
public enum LoggingSetup {
    public static func bootstrap(format: PortcullisConfiguration.LogSection.Format, level: PortcullisConfiguration.LogSection.Level) {
        let level = level.loggerLevel
        switch format {
        case .json:
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }

    /// For an operator command: warnings and errors as plain sentences on standard error
    /// (results go to standard output), unless `--log-format` asked for the structured log.
    public static func bootstrapCommand(
        requestedFormat: PortcullisConfiguration.LogSection.Format?,
        level: PortcullisConfiguration.LogSection.Level
    ) {
        if let requestedFormat { return bootstrap(format: requestedFormat, level: level) }
        LoggingSystem.bootstrap { _ in PlainLogHandler() }
    }
}
