import Logging

/// The pool's background logger without one PostgresNIO warning: "Trying to lease connection
/// from `PostgresClient`, but `PostgresClient.run()` hasn't been called yet".
///
/// Every query here waits for ``Database/waitUntilRunning()``, raised as `run()` starts; but the
/// waiter can resume on another thread a moment before `PostgresClient.run()` sets its flag, and
/// PostgresNIO then warns although the lease simply waits for the pool. Under load that put a
/// spurious warning on a command's standard error (CommandOutputTests). Every other message passes.
struct EarlyLeaseFilter: LogHandler {
    var wrapped: any LogHandler

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        if event.level == .warning, event.message.description.hasSuffix("`PostgresClient.run()` hasn't been called yet.") { return }
        wrapped.log(event: event)
    }

    /// `logger` with its handler wrapped.
    static func applied(to logger: Logger) -> Logger {
        Logger(label: logger.label, factory: { _ in EarlyLeaseFilter(wrapped: logger.handler) })
    }
}
