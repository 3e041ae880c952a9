import Audit
import Database
import Identity
import Logging
import ServiceLifecycle
import Synchronization
import Tokens

/// The identity service as one `Service` of `portcullis serve`: it waits for the database
/// (retrying with backoff, so a replica started before PostgreSQL comes up by itself), then
/// runs the revocation feed, key maintenance and the HTTP listener as a nested group.
final class IdentityReplica: Service, ReadinessCheck {
    let name = "identity"
    private let configuration: PortcullisConfiguration
    private let database: Database
    private let masterKey: MasterKey
    private let recorder: any AuditRecorder
    private let policies: @Sendable () -> AdminPolicies?
    private let logger: Logger
    private let parts = Mutex<IdentityRuntime.Parts?>(nil)

    init(configuration: PortcullisConfiguration, database: Database, masterKey: MasterKey, recorder: any AuditRecorder,
         policies: @escaping @Sendable () -> AdminPolicies?, logger: Logger) {
        self.configuration = configuration
        self.database = database
        self.masterKey = masterKey
        self.recorder = recorder
        self.policies = policies
        self.logger = logger
    }

    func run() async throws {
        var delay = Duration.milliseconds(200)
        var assembled: IdentityRuntime.Parts?
        while assembled == nil && !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                assembled = try await IdentityRuntime.assemble(configuration: configuration, database: database, masterKey: masterKey,
                                                               recorder: recorder, logger: logger)
            } catch {
                logger.warning("identity service waiting for its database", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                let wait = delay
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                delay = min(delay * 2, .seconds(5))
            }
        }
        guard let assembled else { return }
        parts.withLock { $0 = assembled }
        let http = IdentityRuntime.application(configuration: configuration, service: assembled.service, policies: policies, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: assembled.feed), .init(service: assembled.maintenance), .init(service: http)],
            logger: logger))
        try await group.run()
    }

    /// The active signing key, once assembled (audit checkpoints are signed with it).
    var currentSigner: TokenSigner? {
        parts.withLock { $0 }.flatMap { try? $0.keys.signer() }
    }

    /// Ready once assembled and the revocation feed has loaded the current revocations.
    func problem() async -> String? {
        guard let parts = parts.withLock({ $0 }) else { return "not started (waiting for the database)" }
        return parts.feed.snapshot.synchronized ? nil : "revocation feed not synchronised"
    }
}
