import Audit
import Database
import Foundation
import Logging
import Tokens
import ServiceLifecycle

/// `portcullis serve`: every long-running service of one process in a `ServiceGroup`
/// that shuts down gracefully on SIGTERM or SIGINT (in reverse start order).
public enum ServeRuntime {
    public static func run(configuration: PortcullisConfiguration, logger: Logger) async throws {
        let url = try configuration.requireDatabaseURL()
        let database = Database(url: url, pool: configuration.database.pool, logger: logger)
        var auditConfiguration = configuration.audit.pipeline
        auditConfiguration.checkpointSigner = try await checkpointSigner(configuration: configuration, logger: logger)
        let audit = AuditPipeline(
            configuration: auditConfiguration, store: AuditStore(client: database.client, logger: logger), logger: logger)
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

    /// The active key of the key ring (created on first start), used to sign audit checkpoints.
    /// Without a master key the trail is still hash-chained, but its heads are not signed.
    static func checkpointSigner(configuration: PortcullisConfiguration, logger: Logger) async throws -> TokenSigner? {
        let masterKey: MasterKey? = if let key = try MasterKey.fromEnvironment() {
            key
        } else if let path = configuration.keys.masterKeyFile {
            try MasterKey(contentsOf: URL(fileURLWithPath: path))
        } else {
            nil
        }
        guard let masterKey else {
            logger.warning("no master key (PORTCULLIS_MASTER_KEY or keys.master_key_file): audit checkpoints are not signed")
            return nil
        }
        let ringFile = URL(fileURLWithPath: configuration.keys.ringFile)
        try FileManager.default.createDirectory(at: ringFile.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let rotator = KeyRingRotator(store: FileKeyRingStore(path: ringFile.path), masterKey: masterKey, policy: RotationPolicy())
        let (ring, _) = try await rotator.rotateIfDue(now: Date())
        let signer = try ring.signer(masterKey: masterKey)
        logger.info("audit checkpoints signed", metadata: ["key_id": "\(signer.key.publicKey.keyID)"])
        return signer
    }
}
