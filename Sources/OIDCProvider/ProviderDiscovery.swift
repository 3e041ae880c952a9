import Foundation

/// The discovery document (OpenID Connect Discovery 1.0 §3) and the endpoint paths: everything
/// lives on the sign-in host, whose origin is the issuer.
enum ProviderDiscovery {
    static let authorizePath = "/.portcullis/oidc/authorize"
    static let tokenPath = "/.portcullis/oidc/token"
    static let userInfoPath = "/.portcullis/oidc/userinfo"
    static let keySetPath = "/.portcullis/oidc/jwks"
    static let revocationPath = "/.portcullis/oidc/revoke"
    static let logoutPath = "/.portcullis/oidc/logout"

    static func document(issuer: String) -> [UInt8] {
        let authMethods = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
        let document: [String: Any] = [
            "issuer": issuer,
            "authorization_endpoint": issuer + authorizePath,
            "token_endpoint": issuer + tokenPath,
            "userinfo_endpoint": issuer + userInfoPath,
            "jwks_uri": issuer + keySetPath,
            "revocation_endpoint": issuer + revocationPath,
            "end_session_endpoint": issuer + logoutPath,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "userinfo_signing_alg_values_supported": ["none"],
            "token_endpoint_auth_methods_supported": authMethods,
            "revocation_endpoint_auth_methods_supported": authMethods,
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "sid", "at_hash", "preferred_username", "name",
                "email", "groups", "roles",
            ],
            "prompt_values_supported": ["none", "login"],
            "authorization_response_iss_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
        ]
        return Array((try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
    }
}
