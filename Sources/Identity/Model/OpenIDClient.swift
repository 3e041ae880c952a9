import Foundation

/// An application that signs people in with Portcullis as its OpenID provider (Grafana, a wiki,
/// the company's own front end). Confidential clients authenticate at the token endpoint with a
/// secret (only its keyed hash is stored); public clients (a single-page app, a CLI) cannot keep
/// one and must use PKCE. Redirect URIs are matched exactly, never by prefix.
public struct OpenIDClient: Sendable, Equatable, Encodable {
    public var id: String
    public var name: String
    public var confidential: Bool
    public var redirectURIs: [String]
    public var postLogoutRedirectURIs: [String]
    /// Scopes the client may ask for; `openid` always among them.
    public var scopes: [String]
    /// Which person claims its tokens carry beyond `sub` (`login`, `email`, `name`, `groups`, `roles`).
    public var claims: [String]
    /// Tags of `Client::"<id>"` in Cedar: policies decide who may sign in to which tool by them.
    public var labels: [String: String]
    /// `RS256` (what OpenID Connect requires every provider to offer), `ES256` or `EdDSA`.
    public var idTokenAlgorithm: String
    public var accessTokenLifetime: TimeInterval
    public var refreshTokenLifetime: TimeInterval
    public var createdAt: Date
    public var secretRotatedAt: Date?
    /// The public keys of a confidential client that authenticates with `private_key_jwt`
    /// (RFC 7523) instead of a secret: a JWKS document.
    public var jwks: String?

    /// The claims a client can be configured to receive.
    public static let knownClaims: Set<String> = ["login", "email", "name", "groups", "roles"]
    /// Scopes the provider knows: `openid`, the profile scopes, and `offline_access` for a refresh token.
    public static let knownScopes: Set<String> = ["openid", "profile", "email", "groups", "offline_access"]
    public static let algorithms: Set<String> = ["RS256", "ES256", "EdDSA"]

    enum CodingKeys: String, CodingKey {
        case id, name, confidential, scopes, claims, labels
        case redirectURIs = "redirect_uris"
        case postLogoutRedirectURIs = "post_logout_redirect_uris"
        case idTokenAlgorithm = "id_token_signed_response_alg"
        case accessTokenLifetime = "access_token_seconds"
        case refreshTokenLifetime = "refresh_token_seconds"
        case createdAt = "created_at"
        case secretRotatedAt = "secret_rotated_at"
        case jwks
    }

    /// How the client authenticates at the token endpoint.
    public var authenticationMethod: String { !confidential ? "none" : jwks == nil ? "client_secret_basic" : "private_key_jwt" }

    public init(
        id: String, name: String, confidential: Bool, redirectURIs: [String], postLogoutRedirectURIs: [String] = [],
        scopes: [String] = ["openid", "profile", "email"], claims: [String] = ["login", "email", "name"], labels: [String: String] = [:],
        idTokenAlgorithm: String = "RS256", accessTokenLifetime: TimeInterval = 300, refreshTokenLifetime: TimeInterval = 8 * 3600,
        createdAt: Date = Date(), secretRotatedAt: Date? = nil, jwks: String? = nil
    ) {
        self.id = id
        self.name = name
        self.confidential = confidential
        self.redirectURIs = redirectURIs
        self.postLogoutRedirectURIs = postLogoutRedirectURIs
        self.scopes = scopes
        self.claims = claims
        self.labels = labels
        self.idTokenAlgorithm = idTokenAlgorithm
        self.accessTokenLifetime = accessTokenLifetime
        self.refreshTokenLifetime = refreshTokenLifetime
        self.createdAt = createdAt
        self.secretRotatedAt = secretRotatedAt
        self.jwks = jwks
    }

    /// Checks what an administrator gave: a usable id, absolute redirect URIs without fragments
    /// (`https`, or `http` on loopback only), known scopes, claims and algorithm, sane lifetimes.
    public func validated() throws(IdentityError) -> OpenIDClient {
        _ = try Names.identifier(id, field: "client id")
        guard !redirectURIs.isEmpty else { throw .invalid("redirect_uris", "a client needs at least one redirect URI") }
        for uri in redirectURIs + postLogoutRedirectURIs where !Self.isAcceptableRedirect(uri) {
            throw .invalid("redirect_uris", "'\(uri)' must be an absolute https URL without a fragment (http only on loopback)")
        }
        guard scopes.contains("openid") else { throw .invalid("scopes", "must include openid") }
        if let unknown = scopes.first(where: { !Self.knownScopes.contains($0) }) {
            throw .invalid("scopes", "'\(unknown)' is not one of \(Self.knownScopes.sorted().joined(separator: ", "))")
        }
        if let unknown = claims.first(where: { !Self.knownClaims.contains($0) }) {
            throw .invalid("claims", "'\(unknown)' is not one of \(Self.knownClaims.sorted().joined(separator: ", "))")
        }
        guard Self.algorithms.contains(idTokenAlgorithm) else { throw .invalid("id_token_signed_response_alg", "must be RS256, ES256 or EdDSA") }
        guard (30...3600).contains(accessTokenLifetime) else { throw .invalid("access_token_seconds", "must be 30 to 3600") }
        guard (60...(30 * 86_400)).contains(refreshTokenLifetime) else { throw .invalid("refresh_token_seconds", "must be 60 s to 30 days") }
        if let jwks {
            guard confidential else { throw .invalid("jwks", "a public client has no keys: it cannot authenticate") }
            guard let document = (try? JSONSerialization.jsonObject(with: Data(jwks.utf8))) as? [String: Any],
                let keys = document["keys"] as? [[String: Any]], !keys.isEmpty,
                keys.allSatisfy({ ["RSA", "EC", "OKP"].contains($0["kty"] as? String ?? "") && $0["d"] == nil })
            else { throw .invalid("jwks", "expected a JWKS of public RSA, EC or OKP keys (no private parts)") }
        }
        return self
    }

    static func isAcceptableRedirect(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), components.fragment == nil, let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased(), !host.isEmpty, components.user == nil, components.password == nil
        else { return false }
        return scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost", "[::1]", "::1"].contains(host))
    }
}
