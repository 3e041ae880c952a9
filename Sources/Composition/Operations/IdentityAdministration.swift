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
            let parts = try await IdentityRuntime.assemble(configuration: configuration, database: database, masterKey: masterKey,
                                                           recorder: audit, logger: logger)
            return try await body(IdentityAdministration(service: parts.service, recorder: audit, actor: CommandRuntime.operatorPrincipal))
        }
    }

    /// Creates a user with its password, roles and groups, and records the change: what
    /// `portcullis user add` and the demo seed both do.
    public func createUser(login: String, email: String, name: String, password: String, roles: [String], groups: [String]) async throws -> User {
        let hash = try await service.hashPassword(password)
        var user = try await store.createUser(login: try Names.login(login), email: try Names.email(email),
                                              displayName: try Names.text(name, field: "name"), passwordHash: hash)
        for role in roles {
            user = try await store.setUserMembership(login: user.login, .role, name: try Names.identifier(role, field: "role"), granted: true).after
        }
        for group in groups {
            user = try await store.setUserMembership(login: user.login, .group, name: try Names.identifier(group, field: "group"), granted: true).after
        }
        record("user.create", target: "User::\"\(user.login)\"")
        return user
    }

    /// Records one operator change.
    public func record(_ action: String, target: String, details: String? = nil) {
        recorder.record(AuditEvent(kind: .admin, principal: actor, authMethod: "cli", action: action, target: target,
                                   outcome: "applied", details: details))
    }

    /// A random password for accounts created or reset by an operator: 20 characters from an
    /// unambiguous 55-character alphabet (about 115 bits, from the system CSPRNG), shown once.
    public static func oneTimePassword() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
