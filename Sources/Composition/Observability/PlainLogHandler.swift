import Foundation
import Logging

/// `portcullis: warning: the database pool did not stop within 5 s (path: …)`: what an
/// operator command tells the person who ran it. Only warnings and above; the structured log
/// (`--log-format json|text`) has the rest.
public struct PlainLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .warning
    private let output: @Sendable (String) -> Void

    public init(output: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let own = event.metadata { merged.merge(own) { $1 } }
        var line = "portcullis: \(event.level >= .error ? "error" : "warning"): \(event.message)"
        if !merged.isEmpty {
            line += " (" + merged.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
        }
        output(line)
    }
}
