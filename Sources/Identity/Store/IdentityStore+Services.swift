import Foundation
import PostgresNIO

extension IdentityStore {
    static let serviceColumns = """
        s.id, s.name, s.owner, s.spiffe_id, s.status, s.created_at,
        COALESCE((SELECT array_agg(r.role ORDER BY r.role) FROM identity_service_roles r WHERE r.service_id = s.id), '{}')
        """

    typealias ServiceRow = (UUID, String, String, String?, String, Date, [String])

    static func service(_ row: ServiceRow) -> ServiceAccount {
        ServiceAccount(
            id: row.0, name: row.1, owner: row.2, spiffeID: row.3, status: AccountStatus(rawValue: row.4) ?? .disabled,
            roles: row.6, createdAt: row.5)
    }

    public func createService(name: String, owner: String, spiffeID: String?, roles: [String]) async throws(IdentityError) -> ServiceAccount {
        let logger = self.logger
        try await transaction { connection in
            let rows = try await connection.query(
                """
                INSERT INTO identity_service_accounts (name, owner, spiffe_id) VALUES (\(name), \(owner), \(spiffeID)) RETURNING id
                """, logger: logger)
            for try await id in rows.decode(UUID.self) {
                for role in roles {
                    try await connection.query(
                        "INSERT INTO identity_service_roles (service_id, role) VALUES (\(id), \(role))", logger: logger)
                }
            }
            try await Self.notify(.hierarchyChanged, on: connection, logger: logger)
        }
        return try await requireService(name)
    }

    public func service(_ name: String) async throws(IdentityError) -> ServiceAccount? {
        try await run {
            let rows = try await client.query(
                "SELECT \(unescaped: Self.serviceColumns) FROM identity_service_accounts s WHERE s.name = \(name)", logger: logger)
            for try await row in rows.decode(ServiceRow.self) { return Self.service(row) }
            return nil
        }
    }

    public func requireService(_ name: String) async throws(IdentityError) -> ServiceAccount {
        guard let service = try await service(name) else { throw .notFound("service account '\(name)'") }
        return service
    }

    public func listServices(after: String?, limit: Int) async throws(IdentityError) -> Page<ServiceAccount> {
        try await run {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Self.serviceColumns) FROM identity_service_accounts s
                WHERE \(after)::text IS NULL OR s.name > \(after) ORDER BY s.name LIMIT \(limit + 1)
                """, logger: logger)
            var services: [ServiceAccount] = []
            for try await row in rows.decode(ServiceRow.self) { services.append(Self.service(row)) }
            return Self.page(services, limit: limit, cursor: \.name)
        }
    }

    public func setServiceRole(name: String, role: String, granted: Bool) async throws(IdentityError) -> ServiceAccount {
        let service = try await requireService(name)
        let logger = self.logger
        try await transaction { connection in
            if granted {
                try await connection.query(
                    """
                    INSERT INTO identity_service_roles (service_id, role) VALUES (\(service.id), \(role)) ON CONFLICT DO NOTHING
                    """, logger: logger)
            } else {
                try await connection.query(
                    "DELETE FROM identity_service_roles WHERE service_id = \(service.id) AND role = \(role)", logger: logger)
            }
            try await Self.notify(.hierarchyChanged, on: connection, logger: logger)
        }
        return try await requireService(name)
    }

    /// Disables or re-enables a service account; disabling revokes its outstanding tokens everywhere.
    public func setServiceStatus(
        name: String, _ status: AccountStatus, revocationLifetime: TimeInterval
    ) async throws(IdentityError) -> (before: ServiceAccount, after: ServiceAccount) {
        let before = try await requireService(name)
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                """
                UPDATE identity_service_accounts SET status = \(status.rawValue), updated_at = now() WHERE id = \(before.id)
                """, logger: logger)
            if status != .active {
                try await Self.revokeSubject(name, lifetime: revocationLifetime, on: connection, logger: logger)
            }
            try await Self.notify(.hierarchyChanged, on: connection, logger: logger)
        }
        return (before, try await requireService(name))
    }

    /// Adds a client secret (its keyed hash). With `revokeOthers`, every other secret of the
    /// service stops working at once and tokens minted with them are revoked (a suspected leak);
    /// without it, old secrets stay valid until they expire (rotation without downtime).
    public func addServiceSecret(
        service name: String, hash: [UInt8], expiresAt: Date, revokeOthers: Bool,
        revocationLifetime: TimeInterval
    ) async throws(IdentityError) -> ServiceSecret {
        let service = try await requireService(name)
        let logger = self.logger
        return try await transaction { connection in
            if revokeOthers {
                try await connection.query(
                    """
                    UPDATE identity_service_secrets SET revoked_at = now() WHERE service_id = \(service.id) AND revoked_at IS NULL
                    """, logger: logger)
                try await Self.revokeSubject(name, lifetime: revocationLifetime, on: connection, logger: logger)
            }
            let rows = try await connection.query(
                """
                INSERT INTO identity_service_secrets (service_id, secret_hash, expires_at)
                VALUES (\(service.id), \(ByteBuffer(bytes: hash)), \(expiresAt))
                RETURNING id, created_at, expires_at
                """, logger: logger)
            for try await (id, created, expires) in rows.decode((UUID, Date, Date).self) {
                return ServiceSecret(id: id, createdAt: created, expiresAt: expires, revokedAt: nil)
            }
            throw IdentityError.unavailable("secret insert returned nothing")
        }
    }

    public func listServiceSecrets(service name: String) async throws(IdentityError) -> [ServiceSecret] {
        let service = try await requireService(name)
        return try await run {
            let rows = try await client.query(
                """
                SELECT id, created_at, expires_at, revoked_at FROM identity_service_secrets
                WHERE service_id = \(service.id) ORDER BY created_at
                """, logger: logger)
            var secrets: [ServiceSecret] = []
            for try await (id, created, expires, revoked) in rows.decode((UUID, Date, Date, Date?).self) {
                secrets.append(ServiceSecret(id: id, createdAt: created, expiresAt: expires, revokedAt: revoked))
            }
            return secrets
        }
    }

    public func revokeServiceSecret(service name: String, secretID: UUID) async throws(IdentityError) {
        let service = try await requireService(name)
        let revoked = try await run {
            let rows = try await client.query(
                """
                UPDATE identity_service_secrets SET revoked_at = COALESCE(revoked_at, now())
                WHERE id = \(secretID) AND service_id = \(service.id) RETURNING id
                """, logger: logger)
            var found = false
            for try await _ in rows.decode(UUID.self) { found = true }
            return found
        }
        guard revoked else { throw .notFound("secret \(secretID) of service account '\(name)'") }
    }

    /// Active service accounts with a SPIFFE binding, keyed by it (for the directory snapshot).
    func allServices() async throws(IdentityError) -> [ServiceAccount] {
        try await run {
            let rows = try await client.query(
                "SELECT \(unescaped: Self.serviceColumns) FROM identity_service_accounts s", logger: logger)
            var services: [ServiceAccount] = []
            for try await row in rows.decode(ServiceRow.self) { services.append(Self.service(row)) }
            return services
        }
    }

    /// The active service account that owns an unexpired, unrevoked secret with this hash.
    func serviceAuthenticated(bySecretHash hash: [UInt8]) async throws(IdentityError) -> ServiceAccount? {
        try await run {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Self.serviceColumns) FROM identity_service_accounts s
                JOIN identity_service_secrets k ON k.service_id = s.id
                WHERE k.secret_hash = \(ByteBuffer(bytes: hash)) AND k.revoked_at IS NULL AND k.expires_at > now()
                  AND s.status = 'active'
                """, logger: logger)
            for try await row in rows.decode(ServiceRow.self) { return Self.service(row) }
            return nil
        }
    }
}
