import AccessModel
import Audit
import Cedar
import Database
import Foundation
import Gateway
import Logging
import PolicyStore
import ServiceLifecycle
import Synchronization
import Tokens

/// `portcullis serve`: every long-running service of one process in a `ServiceGroup`
/// that shuts down gracefully on SIGTERM or SIGINT (in reverse start order).
public enum ServeRuntime {
    /// Where the gateway's and identity service's events go.
    public enum AuditMode: Sendable {
        /// Into the audit pipeline: always, except to measure what recording costs.
        case record
        /// Nowhere (`serve --benchmark-without-audit`, used by `scripts/bench-gateway`). Such a
        /// process never reports ready on `/readyz`, so no load balancer sends it real traffic.
        case discardForBenchmark
    }

    public static func run(configuration: PortcullisConfiguration, logger: Logger, auditMode: AuditMode = .record) async throws {
        TerminationSignals.unblock()
        let url = try configuration.requireDatabaseURL()
        let database = Database(url: url, pool: configuration.database.pool, logger: logger)
        let masterKey = try IdentityRuntime.masterKey(configuration: configuration)
        var auditConfiguration = configuration.audit.pipeline
        let identitySigner = Mutex<IdentityAndGateway?>(nil)
        // Checkpoints are signed with the identity service's active key, followed across rotations.
        auditConfiguration.checkpointSigner = { identitySigner.withLock { $0?.currentSigner } }
        if let masterKey {
            auditConfiguration.archivedKeyAuthenticator = { ArchivedKeyAuthentication.authenticator(for: $0, masterKey: masterKey) }
        }
        let audit = AuditPipeline(
            configuration: auditConfiguration, store: AuditStore(client: database.client, logger: logger), logger: logger)
        let telemetry = Telemetry()
        telemetry.addSampler { writer in
            let figures = audit.statistics
            writer.counter("portcullis_audit_events_accepted_total", figures.accepted)
            writer.counter("portcullis_audit_events_written_total", figures.written)
            writer.counter("portcullis_audit_events_spooled_total", figures.spooled)
            writer.counter("portcullis_audit_events_replayed_total", figures.replayed)
            writer.counter("portcullis_audit_events_dropped_total", figures.dropped)
            writer.gauge("portcullis_audit_queue_events", figures.queued)
            writer.gauge("portcullis_audit_spool_bytes", figures.spoolBytes)
            writer.gauge("portcullis_audit_accepting_traffic", audit.isAcceptingTraffic ? 1 : 0)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: database), .init(service: audit)]
        var checks: [any ReadinessCheck] = [DatabaseReadiness(database: database), AuditReadiness(recorder: audit)]
        var policies: PolicyHolder?
        if let masterKey {
            let holder: PolicyHolder
            var policyFeed: PolicyFeed?
            switch configuration.policies.source {
            case .files:
                let loaded = try PolicyDirectory.load(configuration.policies.directory)
                logger.info(
                    "policies loaded",
                    metadata: [
                        "directory": "\(configuration.policies.directory)", "version": "\(loaded.version)",
                        "files": "\(loaded.files.count)",
                    ])
                holder = PolicyHolder(PolicySnapshot(authorizer: Authorizer(loaded.set), version: loaded.version))
            case .database:
                holder = PolicyHolder(nil)
                let feed = PolicyFeed(
                    versions: PolicyVersions(client: database.client, checker: PolicyWorkflow.checker, logger: logger),
                    openConnection: { try await database.openDedicatedConnection(logger: logger) },
                    liveness: configuration.database.feedLiveness, logger: logger
                ) { set, version in
                    holder.replace(with: PolicySnapshot(authorizer: Authorizer(set), version: version.hash))
                }
                policyFeed = feed
                checks.append(feed)
            }
            policies = holder
            var recorder: any AuditRecorder = audit
            if auditMode == .discardForBenchmark {
                logger.error("audit events are discarded (--benchmark-without-audit): this process reports not ready and must not serve real traffic")
                recorder = DiscardingRecorder()
                checks.append(DiscardingRecorder())
            }
            let identity = IdentityAndGateway(
                configuration: configuration, database: database, masterKey: masterKey, recorder: recorder,
                policies: holder, policyFeed: policyFeed, telemetry: telemetry, logger: logger)
            identitySigner.withLock { $0 = identity }
            services.append(.init(service: identity))
            checks.append(identity)
        } else {
            logger.warning(
                "no master key (PORTCULLIS_MASTER_KEY or keys.master_key_file): the identity service is not started and audit checkpoints are not signed"
            )
        }
        let enforced = policies
        let admin = AdminListener.application(
            listen: configuration.admin.listen,
            checks: checks,
            facts: { enforced?.snapshot.map { ["policy_version": $0.version] } ?? [:] },
            metrics: { telemetry.exposition() },
            logger: logger,
            onStarted: { address in
                logger.notice("admin listener started", metadata: ["address": "\(address.map { "\($0)" } ?? "?")"])
            })
        services.append(
            .init(
                service: admin, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup))
        logger.info("starting", metadata: ["database": "\(url)"])
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.notice("stopped")
    }
}
