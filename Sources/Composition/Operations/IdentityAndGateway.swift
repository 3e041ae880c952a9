import AccessModel
import Audit
import Console
import Database
import Foundation
import Gateway
import Identity
import Logging
import PolicyStore
import ServiceLifecycle
import Synchronization
import Tokens

/// The identity service and, when configured, the gateway, as one `Service` of `portcullis serve`.
///
/// It waits for the database (retrying with backoff, so a replica started before PostgreSQL
/// comes up by itself) and, with `policies.source: database`, loads the active policy version,
/// then runs the policy feed, the revocation feed, key maintenance, the identity listener,
/// the gateway listener and the reloader as a nested group. Both listeners share one policy set,
/// one key ring and one revocation feed.
final class IdentityAndGateway: Service {
    private let configuration: PortcullisConfiguration
    private let database: Database
    private let masterKey: MasterKey
    private let recorder: any AuditRecorder
    private let policies: PolicyHolder
    /// Keeps `policies` on the store's active version (`policies.source: database`).
    private let policyFeed: PolicyFeed?
    private let telemetry: Telemetry
    private let logger: Logger
    private let parts = Mutex<IdentityRuntime.Parts?>(nil)

    init(
        configuration: PortcullisConfiguration, database: Database, masterKey: MasterKey, recorder: any AuditRecorder,
        policies: PolicyHolder, policyFeed: PolicyFeed?, telemetry: Telemetry, logger: Logger
    ) {
        self.configuration = configuration
        self.database = database
        self.masterKey = masterKey
        self.recorder = recorder
        self.policies = policies
        self.policyFeed = policyFeed
        self.telemetry = telemetry
        self.logger = logger
    }

    /// The active signing key, once assembled (audit checkpoints are signed with it).
    var currentSigner: TokenSigner? {
        parts.withLock { $0 }.flatMap { try? $0.keys.signer() }
    }

    func run() async throws {
        var delay = Duration.milliseconds(200)
        var assembled: IdentityRuntime.Parts?
        while assembled == nil && !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // Cancelled on shutdown: a replica still waiting for its database stops at once.
                let parts = try await cancelWhenGracefulShutdown { [configuration, database, masterKey, recorder, logger] in
                    try await IdentityRuntime.assemble(
                        configuration: configuration, database: database, masterKey: masterKey,
                        recorder: recorder, logger: logger)
                }
                // The store's active version is in force before any listener opens.
                try await policyFeed?.synchronize()
                assembled = parts
            } catch {
                logger.warning("identity service waiting for its database", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                let wait = delay
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                delay = min(delay * 2, .seconds(5))
            }
        }
        guard let assembled else { return }
        parts.withLock { $0 = assembled }
        let policies = self.policies
        let identity = IdentityRuntime.application(
            configuration: configuration, service: assembled.service,
            policies: {
                policies.snapshot
            }, workload: assembled.workload, logger: logger)
        var services: [any Service] = [assembled.feed, assembled.maintenance, identity]
        if let policyFeed { services.append(policyFeed) }
        var upstreamClient: UpstreamClient?
        if configuration.gateway.enabled {
            let client = try UpstreamClient(maxOpenPerUpstream: configuration.gateway.settings.limits.maxUpstreamConnections)
            upstreamClient = client
            let gateway = try GatewayRuntime.assemble(
                configuration: configuration, parts: assembled, masterKey: masterKey, policies: policies,
                policyFeed: policyFeed,
                recorder: recorder, upstreamClient: client, console: try await console(assembled),
                telemetry: telemetry, logger: logger)
            services += gateway.services
        }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        defer { upstreamClient?.closeIdleConnections() }
        try await group.run()
    }
}

extension IdentityAndGateway {
    /// The admin console, served by this process's gateway under `/.portcullis/admin/`.
    private func console(_ parts: IdentityRuntime.Parts) async throws -> EmbeddedMount {
        let versions = PolicyVersions(client: database.client, checker: PolicyWorkflow.checker, logger: logger)
        let audit = AuditStore(client: database.client, logger: logger)
        let console = try await AdminConsole.load(
            identity: parts.service, policyVersions: versions, audit: audit,
            workbench: LivePolicyWorkbench(client: database.client, versions: versions, configuration: configuration, logger: logger),
            providers: configuration.federation,
            verification: AuditVerificationRun(
                store: audit, masterKey: masterKey, checkpointInterval: configuration.audit.pipeline.checkpointInterval),
            anchorFiles: [configuration.audit.anchorPath], logger: logger)
        return EmbeddedMount(
            prefix: AdminConsole.prefix, routeID: AdminConsole.routeID, labels: AdminConsole.labels,
            maxBodyBytes: AdminConsole.maxBodyBytes, application: console)
    }
}

extension IdentityAndGateway: ReadinessCheck {
    var name: String { "identity" }

    /// Ready once assembled and the revocation feed has loaded the current revocations.
    func problem() async -> String? {
        guard let parts = parts.withLock({ $0 }) else { return "not started (waiting for the database)" }
        return parts.feed.snapshot.synchronized ? nil : "revocation feed not synchronised"
    }
}
