import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import NIOFoundationCompat
import Tokens

/// One provider as a relying party sees it: its discovery document and signing keys, fetched on
/// first use and cached (the keys fetched again when an id_token names a `kid` not seen yet, at
/// most every 30 s), the code exchange, and strict id_token verification.
actor OpenIDProvider {
    let settings: ProviderSettings
    private let http: HTTPClient
    private var metadata: ProviderMetadata?
    private var keys: JWTKeyCollection?
    private var keyAlgorithms: [String: String?] = [:]
    private var keysFetchedAt: ContinuousClock.Instant?
    /// Logout tokens already accepted, by `jti`, until they are too old to pass anyway (§2.6: a
    /// replayed logout token is refused; it would otherwise end sessions opened after it).
    private var usedLogoutTokens: [String: Date] = [:]

    /// Signature algorithms accepted on id_tokens; never `none`, never an HMAC (whose "secret"
    /// would be the provider's public key, or the client secret).
    static let algorithms: Set<String> = ["RS256", "ES256", "EdDSA"]
    /// Allowed difference between the provider's clock and ours.
    static let clockSkew: TimeInterval = 60
    /// An id_token issued longer ago than this is refused, whatever its `exp`.
    static let maximumAge: TimeInterval = 600

    init(settings: ProviderSettings, http: HTTPClient) {
        self.settings = settings
        self.http = http
    }

    /// The discovery document, fetched once and kept.
    func discovered() async throws(FederationError) -> ProviderMetadata {
        if let metadata { return metadata }
        let url = settings.issuer.absoluteString.hasSuffix("/") ? settings.issuer.absoluteString : settings.issuer.absoluteString + "/"
        let document: ProviderMetadata = try await fetchJSON(url + ".well-known/openid-configuration")
        try document.check(against: settings)
        metadata = document
        return document
    }

    /// The authorization request (code flow, PKCE S256) for `state`.
    func authorizationURL(for state: AuthorizationState, redirectURI: String) async throws(FederationError) -> String {
        let endpoint = try await discovered().authorizationEndpoint
        guard var components = URLComponents(url: endpoint, resolvingAgainstBaseURL: false) else {
            throw .providerUnavailable(provider: settings.id, reason: "unusable authorization endpoint")
        }
        components.queryItems =
            (components.queryItems ?? []) + [
                URLQueryItem(name: "response_type", value: "code"),
                URLQueryItem(name: "client_id", value: settings.clientID),
                URLQueryItem(name: "redirect_uri", value: redirectURI),
                URLQueryItem(name: "scope", value: settings.scopes.joined(separator: " ")),
                URLQueryItem(name: "state", value: state.state),
                URLQueryItem(name: "nonce", value: state.nonce),
                URLQueryItem(name: "code_challenge", value: state.codeChallenge),
                URLQueryItem(name: "code_challenge_method", value: "S256"),
            ]
            + settings.authorizationParameters.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        // `+` in a value would read as a space: escape it as URLComponents does not.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        guard let url = components.string else { throw .providerUnavailable(provider: settings.id, reason: "unusable authorization endpoint") }
        return url
    }

    /// RFC 9207: the `iss` of the authorization response must be this provider's; a provider that
    /// promises it must send it.
    func checkResponseIssuer(_ received: String?) async throws(FederationError) {
        let promised = try await discovered().issuerInResponses == true
        if let received, received != settings.issuer.absoluteString {
            throw .issuerMismatch(expected: settings.issuer.absoluteString, received: received)
        }
        if received == nil && promised { throw .issuerMismatch(expected: settings.issuer.absoluteString, received: nil) }
    }

    /// Exchanges the code (with its PKCE verifier) for tokens: the verified id_token's claims and
    /// the provider's refresh token, if it gave one.
    func redeem(
        code: String, state: AuthorizationState, redirectURI: String, now: Date
    ) async throws(FederationError) -> (claims: IDTokenClaims, refreshToken: String?) {
        let (status, response) = try await tokenRequest([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", state.verifier),
        ])
        guard status == 200, let idToken = response?.idToken else {
            throw .tokenExchangeFailed(response?.error ?? "HTTP \(status)")
        }
        return (try await verify(idToken: idToken, nonce: state.nonce, now: now), response?.refreshToken)
    }

    /// What the provider says of a person now, asked with their refresh token.
    enum Refreshed: Sendable {
        /// Still vouched for: the rotated refresh token, and the claims of a new id_token if one came.
        case valid(refreshToken: String?, claims: IDTokenClaims?)
        /// Refused (`invalid_grant`: the account is disabled or removed, or its grant revoked).
        case refused(String)
    }

    /// A refresh-token grant; an id_token in the answer is verified (no nonce: OpenID Connect
    /// Core §12.2) and must name the same subject.
    func refresh(_ refreshToken: String, subject: String, now: Date) async throws(FederationError) -> Refreshed {
        let (status, response) = try await tokenRequest([("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
        guard status == 200 else {
            guard (400..<500).contains(status) else { throw .providerUnavailable(provider: settings.id, reason: "token endpoint answered \(status)") }
            return .refused(response?.error ?? "HTTP \(status)")
        }
        var claims: IDTokenClaims?
        if let idToken = response?.idToken {
            let verified = try await verify(idToken: idToken, nonce: nil, now: now)
            guard verified.subject == subject else { return .refused("the refreshed id_token names another subject") }
            claims = verified
        }
        return .valid(refreshToken: response?.refreshToken, claims: claims)
    }

    private struct TokenResponse: Decodable {
        let idToken: String?
        let refreshToken: String?
        let error: String?

        enum CodingKeys: String, CodingKey {
            case idToken = "id_token"
            case refreshToken = "refresh_token"
            case error
        }
    }

    /// A token endpoint request with `client_secret_basic` (both parts form-encoded first, RFC 6749 §2.3.1).
    private func tokenRequest(_ fields: [(String, String)]) async throws(FederationError) -> (Int, TokenResponse?) {
        let endpoint = try await discovered().tokenEndpoint
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "accept", value: "application/json")
        let credentials = Self.formEncoded(settings.clientID) + ":" + Self.formEncoded(settings.clientSecret)
        request.headers.add(name: "authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        request.body = .bytes(ByteBuffer(string: fields.map { Self.formEncoded($0.0) + "=" + Self.formEncoded($0.1) }.joined(separator: "&")))
        let (status, body) = try await send(request)
        return (status, try? JSONDecoder().decode(TokenResponse.self, from: body))
    }

    /// Signature (an allowed algorithm, with a key of the provider's JWKS of that algorithm's
    /// type), then issuer, audience, authorized party, times and nonce (nil: a refreshed
    /// id_token, which need not carry one).
    func verify(idToken: String, nonce: String?, now: Date, requireExpiry: Bool = true) async throws(FederationError) -> IDTokenClaims {
        let header = try Self.header(of: idToken)
        guard let algorithm = header.alg, Self.algorithms.contains(algorithm) else {
            throw .invalidIDToken("algorithm \(header.alg ?? "(none)") is not accepted")
        }
        let collection = try await keyCollection(having: header.kid)
        if let kid = header.kid, let keyAlgorithm = keyAlgorithms[kid], let keyAlgorithm, keyAlgorithm != algorithm {
            throw .invalidIDToken("algorithm \(algorithm) does not match key \(kid) (\(keyAlgorithm))")
        }
        if header.kid == nil && keyAlgorithms.count != 1 { throw .invalidIDToken("no kid, and the provider has several keys") }
        let claims: IDTokenClaims
        do {
            claims = try await collection.verify(idToken, as: IDTokenClaims.self)
        } catch {
            throw .invalidIDToken("signature: \(error)")
        }
        guard claims.issuer == settings.issuer.absoluteString else { throw .invalidIDToken("issuer \(claims.issuer ?? "(none)")") }
        guard claims.subject?.isEmpty == false else { throw .invalidIDToken("no subject") }
        guard claims.audience.contains(settings.clientID) else { throw .invalidIDToken("audience \(claims.audience) is not this client") }
        if claims.audience.count > 1 || claims.authorizedParty != nil {
            guard claims.authorizedParty == settings.clientID else { throw .invalidIDToken("authorized party \(claims.authorizedParty ?? "(none)")") }
        }
        if let expiresAt = claims.expiresAt {
            guard expiresAt > now - Self.clockSkew else { throw .invalidIDToken("expired") }
        } else if requireExpiry {
            throw .invalidIDToken("no expiry")
        }
        guard let issuedAt = claims.issuedAt, issuedAt <= now + Self.clockSkew, issuedAt > now - Self.maximumAge else {
            throw .invalidIDToken("issued at an unacceptable time")
        }
        if let notBefore = claims.notBefore, notBefore > now + Self.clockSkew { throw .invalidIDToken("not valid yet") }
        if let nonce {
            guard let presented = claims.nonce, SecretComparison.equal(presented, nonce) else { throw .invalidIDToken("nonce mismatch") }
        }
        return claims
    }

    /// A logout token (OpenID Connect Back-Channel Logout 1.0 §2.6): signed like an id_token,
    /// for this client, recent, with the back-channel logout event and a subject, and without a
    /// nonce (so an id_token cannot pass for one).
    func verify(logoutToken: String, now: Date) async throws(FederationError) -> String {
        let claims = try await verify(idToken: logoutToken, nonce: nil, now: now, requireExpiry: false)
        guard claims.events.contains("http://schemas.openid.net/event/backchannel-logout") else {
            throw .invalidIDToken("not a logout token: no back-channel logout event")
        }
        guard claims.nonce == nil else { throw .invalidIDToken("a logout token carries no nonce") }
        guard let jti = claims.strings["jti"], let issuedAt = claims.issuedAt else { throw .invalidIDToken("a logout token needs a jti") }
        guard let subject = claims.subject else { throw .invalidIDToken("no subject") }
        usedLogoutTokens = usedLogoutTokens.filter { $0.value > now }
        guard usedLogoutTokens[jti] == nil else { throw .invalidIDToken("logout token \(jti) was already used") }
        usedLogoutTokens[jti] = issuedAt + Self.maximumAge + Self.clockSkew
        return subject
    }

    // MARK: Keys

    /// The key set, fetched again when `kid` is not in it (rate-limited).
    private func keyCollection(having kid: String?) async throws(FederationError) -> JWTKeyCollection {
        if let keys, kid.map({ keyAlgorithms[$0] != nil }) ?? true { return keys }
        if let fetched = keysFetchedAt, let keys, ContinuousClock.now - fetched < .seconds(30) { return keys }
        let uri = try await discovered().jwksURI
        /// A key of a type jwt-kit cannot read (an `oct` key, a curve it lacks) is skipped, not a
        /// reason to refuse the whole set.
        struct ReadableKey: Decodable {
            let key: JWK?
            init(from decoder: any Decoder) throws { key = try? JWK(from: decoder) }
        }
        struct KeySet: Decodable { let keys: [ReadableKey] }
        let set: KeySet = try await fetchJSON(uri.absoluteString)
        let collection = JWTKeyCollection()
        var algorithms: [String: String?] = [:]
        for key in set.keys.compactMap(\.key) {
            // Only signature keys of the accepted types; an `oct` (HMAC) key is never used.
            guard let kid = key.keyIdentifier?.string, ["RSA", "EC", "OKP"].contains(key.keyType.rawValue) else { continue }
            do {
                try await collection.add(jwk: key)
                algorithms[kid] = key.algorithm?.rawValue
            } catch {
                continue
            }
        }
        keys = collection
        keyAlgorithms = algorithms
        keysFetchedAt = .now
        return collection
    }

    // MARK: HTTP

    private func fetchJSON<Document: Decodable>(_ url: String) async throws(FederationError) -> Document {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "accept", value: "application/json")
        let (status, body) = try await send(request)
        guard status == 200 else { throw .providerUnavailable(provider: settings.id, reason: "\(url) answered \(status)") }
        do {
            return try JSONDecoder().decode(Document.self, from: body)
        } catch {
            throw .providerUnavailable(provider: settings.id, reason: "\(url): \(error)")
        }
    }

    private func send(_ request: HTTPClientRequest) async throws(FederationError) -> (Int, Data) {
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), Data(buffer: body))
        } catch {
            throw .providerUnavailable(provider: settings.id, reason: "\(request.url): \(error)")
        }
    }

    private static func header(of token: String) throws(FederationError) -> (alg: String?, kid: String?) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = Base64URL.decode(String(parts[0])),
            let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
        else { throw .invalidIDToken("not a JWS compact serialization") }
        return (object["alg"] as? String, object["kid"] as? String)
    }

    static func formEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: formSafe) ?? ""
    }

    private static let formSafe = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._*")
}
