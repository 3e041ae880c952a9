import Audit
import Database
import Foundation
import Identity
import Logging
import Tokens

/// What the operator commands (`portcullis user|role|service|bootstrap-admin`) do, against the
/// configured database. Every change is recorded in the audit trail with the operator's OS
/// account as the actor, exactly as admin API changes are.
public struct IdentityAdministration: Sendable {
    public let service: IdentityService
    public var store: IdentityStore { service.store }
    let recorder: any AuditRecorder
    /// `Operator::"<OS user>"`: who ran the command, for the audit trail and revocation records.
    public let actor: String

    /// Runs `body` with a short-lived pool, audit writer and identity service, and waits until
    /// every audit event it recorded is stored before returning.
    public static func run<T: Sendable>(
        configuration: PortcullisConfiguration, logger: Logger, _ body: @Sendable (IdentityAdministration) async throws -> T
    ) async throws -> T {
        guard let masterKey = try IdentityRuntime.masterKey(configuration: configuration) else { throw KeyRingError.missingMasterKey }
        return try await CommandRuntime.withDatabaseAndAudit(configuration: configuration, logger: logger) { database, audit in
            let parts = try await IdentityRuntime.assemble(
                configuration: configuration, database: database, masterKey: masterKey,
                recorder: audit, logger: logger)
            return try await body(IdentityAdministration(service: parts.service, recorder: audit, actor: CommandRuntime.operatorPrincipal))
        }
    }

    /// The identity changes the admin API and console make, made and recorded as the operator.
    public var operations: AdminOperations {
        AdminOperations(service: service, actor: AdminActor(principal: actor, authMethod: "cli", route: nil))
    }

    /// Creates a user with its password, roles and groups, and records the change: what
    /// `portcullis user add` and the demo seed both do.
    public func createUser(
        login: String, email: String, name: String, password: String, oneTimePassword: Bool = false, roles: [String], groups: [String]
    ) async throws -> User {
        try await operations.createUser(
            login: login, email: email, displayName: name, password: password, oneTimePassword: oneTimePassword, roles: roles,
            groups: groups)
    }

    /// Records one operator change.
    public func record(_ action: String, target: String, details: String? = nil) {
        recorder.record(
            AuditEvent(
                kind: .admin, principal: actor, authMethod: "cli", action: action, target: target,
                outcome: "applied", details: details))
    }
}
