import Foundation
import Tokens

/// The OpenID provider's clients as administrators manage them (CLI, admin API, console):
/// a confidential client's secret is generated here and returned once; only its keyed hash is kept.
extension AdminOperations {
    public func createOpenIDClient(_ draft: OpenIDClient) async throws(IdentityError) -> (client: OpenIDClient, secret: String?) {
        let checked = try draft.validated()
        // A client with keys (private_key_jwt) has no secret.
        let secret = checked.confidential && checked.jwks == nil ? OpaqueSecret.generate(prefix: "pcs_") : nil
        let created = try await store.createOpenIDClient(checked, secretHash: secret.map(service.secretHasher.digest))
        record("oidc_client.create", target: Self.client(created.id), before: nil, after: created)
        return (created, secret)
    }

    /// A new secret for a confidential client, returned once; the old one stops at once.
    public func rotateOpenIDClientSecret(_ id: String) async throws(IdentityError) -> (client: OpenIDClient, secret: String) {
        let secret = OpaqueSecret.generate(prefix: "pcs_")
        let client = try await store.rotateOpenIDClientSecret(id, secretHash: service.secretHasher.digest(secret))
        record("oidc_client.rotate_secret", target: Self.client(id), before: nil, after: ["secret_rotated_at": client.secretRotatedAt])
        return (client, secret)
    }

    /// Removes a client; every grant it held ends with it.
    public func removeOpenIDClient(_ id: String) async throws(IdentityError) {
        let before = try await store.openIDClient(id)
        try await store.removeOpenIDClient(id)
        record("oidc_client.remove", target: Self.client(id), before: before, after: nil)
    }

    private static func client(_ id: String) -> String { "Client::\"\(id)\"" }
}
