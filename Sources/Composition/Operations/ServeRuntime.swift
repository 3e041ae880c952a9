import Audit
import Database
import Logging
import ServiceLifecycle

/// `portcullis serve`: every long-running service of one process in a `ServiceGroup`
/// that shuts down gracefully on SIGTERM or SIGINT (in reverse start order).
public enum ServeRuntime {
    public static func run(configuration: PortcullisConfiguration, logger: Logger) async throws {
        let url = try configuration.requireDatabaseURL()
        let database = Database(url: url, pool: configuration.database.pool, logger: logger)
        let audit = AuditPipeline(
            configuration: configuration.audit.pipeline, store: AuditStore(client: database.client, logger: logger), logger: logger)
        let admin = AdminListener.application(
            listen: configuration.admin.listen,
            checks: [DatabaseReadiness(database: database), AuditReadiness(recorder: audit)],
            logger: logger,
            onStarted: { address in
                logger.notice("admin listener started", metadata: ["address": "\(address.map { "\($0)" } ?? "?")"])
            })
        logger.info("starting", metadata: ["database": "\(url)"])
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: database),
                .init(service: audit),
                .init(service: admin, successTerminationBehavior: .gracefullyShutdownGroup,
                      failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        logger.notice("stopped")
    }
}
