import Foundation
import Identity
import Tokens

/// The tokens of a grant, as standard clients verify them: an id_token (RS256 unless the client
/// asked for ES256 or EdDSA) and an access token (RFC 9068 `at+jwt`, RS256), both from the person's
/// current account, so a role or group change reaches the next token.
struct IssuedTokens {
    let idToken: String
    let accessToken: String
    let expiresIn: Int

    /// Claims of the person, chosen by the client's configured claims and the granted scopes.
    static func personClaims(_ user: User, client: OpenIDClient, scopes: [String]) -> [String: Any] {
        var claims: [String: Any] = ["sub": subject(of: user)]
        let allowed = Set(client.claims)
        if scopes.contains("profile") {
            if allowed.contains("login") { claims["preferred_username"] = user.login }
            if allowed.contains("name") { claims["name"] = user.displayName.isEmpty ? user.login : user.displayName }
        }
        if scopes.contains("email"), allowed.contains("email") { claims["email"] = user.email }
        if scopes.contains("groups") {
            if allowed.contains("groups") { claims["groups"] = user.groups }
            if allowed.contains("roles") { claims["roles"] = user.roles }
        }
        return claims
    }

    /// `sub`: the account's id, stable across renames and never reused.
    static func subject(of user: User) -> String { user.id.uuidString.lowercased() }

    static func mint(
        for grant: OpenIDGrant, user: User, client: OpenIDClient, nonce: String?, issuer: String, keys: SigningKeys, now: Date = Date()
    ) throws -> IssuedTokens {
        let issuedAt = Int(now.timeIntervalSince1970)
        let lifetime = Int(client.accessTokenLifetime)
        let signer = try keys.openIDSigner()
        let access: [String: Any] = [
            "iss": issuer, "sub": subject(of: user), "aud": client.id, "client_id": client.id, "iat": issuedAt, "exp": issuedAt + lifetime,
            "jti": UUID().uuidString.lowercased(), "scope": grant.scopes.joined(separator: " "), "gid": grant.id.uuidString.lowercased(),
            "auth_time": Int(grant.authTime.timeIntervalSince1970),
        ]
        let accessToken = try signer.jws(try json(access), type: "at+jwt")
        var id = personClaims(user, client: client, scopes: grant.scopes)
        id.merge([
            "iss": issuer, "aud": client.id, "iat": issuedAt, "exp": issuedAt + lifetime, "auth_time": Int(grant.authTime.timeIntervalSince1970),
            "amr": grant.amr, "acr": grant.amr.contains("mfa") ? "urn:portcullis:mfa" : "urn:portcullis:single-factor",
            "sid": grant.sessionID.uuidString.lowercased(), "at_hash": halfHash(accessToken, algorithm: client.idTokenAlgorithm),
        ]) { $1 }
        if let nonce { id["nonce"] = nonce }
        let payload = try json(id)
        let idToken: String
        switch client.idTokenAlgorithm {
        case "EdDSA": idToken = try keys.signer().jwt(payload: payload)
        case "ES256": idToken = try keys.openIDP256Signer().jws(payload)
        default: idToken = try signer.jws(payload)
        }
        return IssuedTokens(idToken: idToken, accessToken: accessToken, expiresIn: lifetime)
    }

    /// The audience of an id_token this provider signed (RS256 or EdDSA), whatever its expiry: an
    /// RP-initiated logout's `id_token_hint`.
    static func audience(ofOwn token: String, issuer: String, keys: SigningKeys) -> String? {
        let payload =
            RSASigningKey.verifiedPayload(token, keys: keys.openIDKeys, type: "JWT")
            ?? (try? JWTVerifier(keys: keys.verificationKeys, policy: ClaimsPolicy(issuers: [], audiences: [])).verifySignature(token).payload)
        guard let payload, let claims = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any],
            claims["iss"] as? String == issuer
        else { return nil }
        return claims["aud"] as? String ?? (claims["aud"] as? [String])?.first
    }

    /// OpenID Connect Core §3.1.3.6: the left half of the access token's hash, by the hash of the
    /// id_token's algorithm (SHA-256 for RS256 and ES256, SHA-512 for Ed25519).
    private static func halfHash(_ token: String, algorithm: String) -> String {
        let digest = algorithm == "EdDSA" ? Digest.sha512(Array(token.utf8)) : Digest.sha256(Array(token.utf8))
        return Base64URL.encode(digest.prefix(digest.count / 2))
    }

    static func json(_ object: [String: Any]) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
    }
}
