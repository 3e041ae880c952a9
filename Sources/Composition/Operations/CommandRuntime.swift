import Audit
import Database
import Foundation
import Identity
import Logging
import Synchronization
import Tokens

/// The short-lived parts an operator command needs: a pool on the configured database and an
/// audit writer, both running only while the command does.
enum CommandRuntime {
    /// Runs `body` with the pool and audit writer, then waits until every audit event it recorded
    /// is stored, whether it succeeded or failed (a refused change is audited too).
    static func withDatabaseAndAudit<T: Sendable>(
        configuration: PortcullisConfiguration, logger: Logger, _ body: @Sendable (Database, AuditPipeline) async throws -> T
    ) async throws -> T {
        let database = Database(url: try configuration.requireDatabaseURL(), pool: configuration.database.pool, logger: logger)
        let masterKey = try IdentityRuntime.masterKey(configuration: configuration)
        // With the master key, the command signs its own chain (its clean stop checkpointed) with
        // the identity service's active key; without it the chain stays unsigned and `audit
        // verify` says so.
        let signer = Mutex<TokenSigner?>(nil)
        var auditConfiguration = configuration.audit.pipeline
        auditConfiguration.checkpointSigner = { signer.withLock { $0 } }
        if let masterKey {
            auditConfiguration.archivedKeyAuthenticator = { ArchivedKeyAuthentication.authenticator(for: $0, masterKey: masterKey) }
        }
        let audit = AuditPipeline(
            configuration: auditConfiguration, store: AuditStore(client: database.client, logger: logger), logger: logger)
        let (result, stoppedInTime) = try await BackgroundWork.during([{ try await database.run() }, { try await audit.run() }]) {
            await database.waitUntilRunning()
            if let masterKey {
                // As `serve` at startup: the first keys are made on a new database (the demo
                // seeds its organisation before the identity service ever ran) and a due
                // rotation is applied, so the command's chain is signed from its first run.
                let keys = SigningKeys(store: PostgresKeyRingStore(client: database.client, logger: logger), masterKey: masterKey)
                do {
                    try await keys.refresh(policy: IdentityRuntime.rotationPolicy(configuration))
                    let active = try keys.signer()
                    signer.withLock { $0 = active }
                } catch {
                    logger.warning("no signing key: this command's audit chain is not checkpointed", metadata: ["error": "\(error)"])
                }
            }
            let result: Result<T, any Error>
            do { result = .success(try await body(database, audit)) } catch { result = .failure(error) }
            while audit.statistics.queued > 0 || audit.statistics.accepted > audit.statistics.written + audit.statistics.spooled {
                try await Task.sleep(for: .milliseconds(20))
            }
            return result
        }
        if !stoppedInTime { logger.warning("the database pool and audit writer did not stop within 5 s; the command ends anyway") }
        return try result.get()
    }

    /// `Operator::"<OS user>"`: who ran the command, for the audit trail.
    static var operatorPrincipal: String { "Operator::\"\(operatorName)\"" }

    /// The OS account running the command.
    static var operatorName: String { ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName }
}
