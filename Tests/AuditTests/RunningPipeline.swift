import Database
import Logging
import ServiceLifecycle

@testable import Audit

/// Runs `configuration`'s pipeline against `database` (started and migrated here) while `body`
/// records through it, then stops the writer gracefully, its clean stop stored while the pool
/// still runs, as `serve` stops it.
func withRunningPipeline(
    _ configuration: AuditPipeline.Configuration, database: Database, logger: Logger,
    _ body: @Sendable (AuditPipeline) async throws -> Void
) async throws {
    let pipeline = AuditPipeline(configuration: configuration, store: AuditStore(client: database.client, logger: logger), logger: logger)
    let writer = ServiceGroup(configuration: .init(services: [pipeline], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await database.run() }
        await database.waitUntilRunning()
        _ = try await Migrator(client: database.client, logger: logger).apply(try Migration.bundled())
        tasks.addTask { try await writer.run() }
        try await body(pipeline)
        await writer.triggerGracefulShutdown()
        try await tasks.next()
        tasks.cancelAll()
    }
}
