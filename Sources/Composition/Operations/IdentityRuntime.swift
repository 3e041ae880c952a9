import AccessModel
import Audit
import Database
import Foundation
import Hummingbird
import Identity
import Logging
import PKI
import PolicyStore
import ServiceLifecycle
import Tokens

/// The identity service of `portcullis serve`, and the store the operator commands use.
public enum IdentityRuntime {
    /// The services that make up one identity replica, in start order.
    public struct Parts: Sendable {
        public let keys: SigningKeys
        public let service: IdentityService
        public let feed: RevocationFeed
        public let maintenance: IdentityMaintenance
        /// The Workload API's CA, when `identity.ca_directory` is configured.
        public let workload: WorkloadCertificates?
    }

    /// Loads the signing keys (creating the first on a new database) and assembles the service.
    /// Needs the pool running: call it from inside a running `Database`.
    public static func assemble(
        configuration: PortcullisConfiguration, database: Database, masterKey: MasterKey,
        recorder: any AuditRecorder, logger: Logger
    ) async throws -> Parts {
        let store = IdentityStore(client: database.client, logger: logger)
        let keys = SigningKeys(
            store: PostgresKeyRingStore(client: database.client, logger: logger), masterKey: masterKey,
            openIDStores: SigningKeys.OpenIDStores(
                rs256: PostgresKeyRingStore(client: database.client, logger: logger, ring: PostgresKeyRingStore.openIDRSA),
                es256: PostgresKeyRingStore(client: database.client, logger: logger, ring: PostgresKeyRingStore.openIDP256))
        ) { untrusted in
            logger.critical(
                "signing key records the master key does not vouch for were found in the database and are ignored (not published, not trusted)",
                metadata: ["key_ids": "\(untrusted.joined(separator: ","))"])
        }
        let rotation = rotationPolicy(configuration)
        try await keys.refresh(policy: rotation)
        let pool = BlockingWorkPool(threads: max(1, ProcessInfo.processInfo.activeProcessorCount - 1), maxQueued: 256)
        let service = try await IdentityService(
            store: store, keys: keys, settings: configuration.identity.settings, passwordPool: pool,
            masterKey: masterKey, recorder: recorder, logger: logger)
        let feed = RevocationFeed(
            store: store, openConnection: { try await database.openDedicatedConnection(logger: logger) },
            liveness: configuration.database.feedLiveness, logger: logger
        ) {
            do { try await keys.refresh(policy: rotation) } catch { logger.error("reloading signing keys failed", metadata: ["error": "\(error)"]) }
        }
        // A configured CA that cannot be read stops startup: a replica that silently lacked the
        // Workload API would break every renewal routed to it.
        let workload = try configuration.identity.caDirectory.map { directory throws in
            WorkloadCertificates(identity: service, authority: try CAFiles(directory: URL(fileURLWithPath: directory)).load())
        }
        return Parts(
            keys: keys, service: service, feed: feed,
            maintenance: IdentityMaintenance(keys: keys, store: store, rotation: rotation, logger: logger), workload: workload)
    }

    /// The HTTP listener of the identity API.
    public static func application(
        configuration: PortcullisConfiguration, service: IdentityService,
        policies: @escaping @Sendable () -> PolicySnapshot?, workload: WorkloadCertificates? = nil,
        logger: Logger
    ) -> some ApplicationProtocol {
        let listen = configuration.identity.listen
        let versions = PolicyVersions(client: service.store.client, checker: PolicyWorkflow.checker, logger: logger)
        return Application(
            router: IdentityAPI(
                service: service, policies: policies, policyVersions: versions,
                workbench: LivePolicyWorkbench(
                    client: service.store.client, versions: versions, configuration: configuration,
                    logger: logger),
                workload: workload
            ).router(),
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: { channel in
                logger.notice("identity listener started", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger)
    }

    /// When signing keys rotate: a retiring key stays published for the longest token it signed.
    static func rotationPolicy(_ configuration: PortcullisConfiguration) -> RotationPolicy {
        RotationPolicy(maxTokenLifetime: max(configuration.identity.settings.accessTokenLifetime, 3600))
    }

    /// The master key from `PORTCULLIS_MASTER_KEY` or `keys.master_key_file`, if either is set.
    public static func masterKey(configuration: PortcullisConfiguration) throws -> MasterKey? {
        if let key = try MasterKey.fromEnvironment() { return key }
        if let path = configuration.keys.masterKeyFile { return try MasterKey(contentsOf: URL(fileURLWithPath: path)) }
        return nil
    }
}
