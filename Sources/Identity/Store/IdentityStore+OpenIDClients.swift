import Foundation
import PostgresNIO

extension IdentityStore {
    private static let clientColumns = """
        id, name, confidential, redirect_uris, post_logout_redirect_uris, scopes, claims, labels::text, id_token_algorithm,
        access_token_seconds, refresh_token_seconds, created_at, secret_rotated_at, jwks
        """
    private typealias ClientRow = (
        String, String, Bool, [String], [String], [String], [String], String, String, Int32, Int32, Date, Date?, String?
    )

    private static func client(_ row: ClientRow) -> OpenIDClient {
        let labels = (try? JSONDecoder().decode([String: String].self, from: Data(row.7.utf8))) ?? [:]
        return OpenIDClient(
            id: row.0, name: row.1, confidential: row.2, redirectURIs: row.3, postLogoutRedirectURIs: row.4, scopes: row.5,
            claims: row.6, labels: labels, idTokenAlgorithm: row.8, accessTokenLifetime: TimeInterval(row.9),
            refreshTokenLifetime: TimeInterval(row.10), createdAt: row.11, secretRotatedAt: row.12, jwks: row.13)
    }

    /// Registers a client; `secretHash` nil for a public client.
    func createOpenIDClient(_ client: OpenIDClient, secretHash: [UInt8]?) async throws(IdentityError) -> OpenIDClient {
        let labels = String(decoding: (try? JSONEncoder().encode(client.labels)) ?? Data("{}".utf8), as: UTF8.self)
        let inserted = try await run { () async throws -> OpenIDClient? in
            let rows = try await self.client.query(
                """
                INSERT INTO oidc_clients (id, name, confidential, secret_hash, jwks, redirect_uris, post_logout_redirect_uris, scopes, claims,
                    labels, id_token_algorithm, access_token_seconds, refresh_token_seconds)
                VALUES (\(client.id), \(client.name), \(client.confidential), \(secretHash.map { ByteBuffer(bytes: $0) }), \(client.jwks),
                    \(client.redirectURIs), \(client.postLogoutRedirectURIs), \(client.scopes), \(client.claims), \(labels)::jsonb,
                    \(client.idTokenAlgorithm), \(Int32(client.accessTokenLifetime)), \(Int32(client.refreshTokenLifetime)))
                ON CONFLICT (id) DO NOTHING
                RETURNING \(unescaped: Self.clientColumns)
                """, logger: logger)
            for try await row in rows.decode(ClientRow.self) { return Self.client(row) }
            return nil
        }
        guard let inserted else { throw .conflict("a client named \(client.id) already exists") }
        return inserted
    }

    public func openIDClient(_ id: String) async throws(IdentityError) -> OpenIDClient? {
        try await run {
            let rows = try await client.query("SELECT \(unescaped: Self.clientColumns) FROM oidc_clients WHERE id = \(id)", logger: logger)
            for try await row in rows.decode(ClientRow.self) { return Self.client(row) }
            return nil
        }
    }

    public func listOpenIDClients() async throws(IdentityError) -> [OpenIDClient] {
        try await run {
            let rows = try await client.query("SELECT \(unescaped: Self.clientColumns) FROM oidc_clients ORDER BY id", logger: logger)
            var clients: [OpenIDClient] = []
            for try await row in rows.decode(ClientRow.self) { clients.append(Self.client(row)) }
            return clients
        }
    }

    /// The client whose id and secret hash match; nil for anything else (unknown, public, wrong secret).
    func authenticateOpenIDClient(_ id: String, secretHash: [UInt8]) async throws(IdentityError) -> OpenIDClient? {
        try await run {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Self.clientColumns) FROM oidc_clients
                WHERE id = \(id) AND confidential AND secret_hash = \(ByteBuffer(bytes: secretHash))
                """, logger: logger)
            for try await row in rows.decode(ClientRow.self) { return Self.client(row) }
            return nil
        }
    }

    /// Replaces a confidential client's secret; every grant made with the old one keeps working
    /// (the grants belong to people, not to the secret).
    func rotateOpenIDClientSecret(_ id: String, secretHash: [UInt8]) async throws(IdentityError) -> OpenIDClient {
        let updated = try await run { () async throws -> OpenIDClient? in
            let rows = try await client.query(
                """
                UPDATE oidc_clients SET secret_hash = \(ByteBuffer(bytes: secretHash)), secret_rotated_at = now()
                WHERE id = \(id) AND confidential AND jwks IS NULL RETURNING \(unescaped: Self.clientColumns)
                """, logger: logger)
            for try await row in rows.decode(ClientRow.self) { return Self.client(row) }
            return nil
        }
        guard let updated else { throw .notFound("confidential client \(id)") }
        return updated
    }

    /// Removes a client with its codes and grants (their refresh tokens stop at once).
    func removeOpenIDClient(_ id: String) async throws(IdentityError) {
        let removed = try await run { () async throws -> Bool in
            let rows = try await client.query("DELETE FROM oidc_clients WHERE id = \(id) RETURNING id", logger: logger)
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
        guard removed else { throw .notFound("client \(id)") }
    }

    /// Notes a private_key_jwt assertion's `jti`; false when that client presented it before.
    public func recordClientAssertion(clientID: String, jti: String, expiresAt: Date) async throws(IdentityError) -> Bool {
        try await run {
            try await client.query("DELETE FROM oidc_client_assertions WHERE expires_at < now()", logger: logger)
            let rows = try await client.query(
                """
                INSERT INTO oidc_client_assertions (client_id, jti, expires_at) VALUES (\(clientID), \(jti), \(expiresAt))
                ON CONFLICT DO NOTHING RETURNING jti
                """, logger: logger)
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
    }
}
