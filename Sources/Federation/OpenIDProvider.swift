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

    /// Exchanges the code (with its PKCE verifier) for tokens and returns the verified id_token's claims.
    func redeem(code: String, state: AuthorizationState, redirectURI: String, now: Date) async throws(FederationError) -> IDTokenClaims {
        let endpoint = try await discovered().tokenEndpoint
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "accept", value: "application/json")
        // client_secret_basic: both parts form-encoded first (RFC 6749 §2.3.1).
        let credentials = Self.formEncoded(settings.clientID) + ":" + Self.formEncoded(settings.clientSecret)
        request.headers.add(name: "authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        let form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", state.verifier),
        ].map { Self.formEncoded($0.0) + "=" + Self.formEncoded($0.1) }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: form))
        struct TokenResponse: Decodable {
            let id_token: String?
            let error: String?
        }
        let (status, body) = try await send(request)
        let response = try? JSONDecoder().decode(TokenResponse.self, from: body)
        guard status == 200, let idToken = response?.id_token else {
            throw .tokenExchangeFailed(response?.error ?? "HTTP \(status)")
        }
        return try await verify(idToken: idToken, nonce: state.nonce, now: now)
    }

    /// Signature (an allowed algorithm, with a key of the provider's JWKS of that algorithm's
    /// type), then issuer, audience, authorized party, times and nonce.
    func verify(idToken: String, nonce: String, now: Date) async throws(FederationError) -> IDTokenClaims {
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
        guard let expiresAt = claims.expiresAt, expiresAt > now - Self.clockSkew else { throw .invalidIDToken("expired") }
        guard let issuedAt = claims.issuedAt, issuedAt <= now + Self.clockSkew, issuedAt > now - Self.maximumAge else {
            throw .invalidIDToken("issued at an unacceptable time")
        }
        if let notBefore = claims.notBefore, notBefore > now + Self.clockSkew { throw .invalidIDToken("not valid yet") }
        guard let presented = claims.nonce, SecretComparison.equal(presented, nonce) else { throw .invalidIDToken("nonce mismatch") }
        return claims
    }

    // MARK: Keys

    /// The key set, fetched again when `kid` is not in it (rate-limited).
    private func keyCollection(having kid: String?) async throws(FederationError) -> JWTKeyCollection {
        if let keys, kid.map({ keyAlgorithms[$0] != nil }) ?? true { return keys }
        if let fetched = keysFetchedAt, let keys, ContinuousClock.now - fetched < .seconds(30) { return keys }
        let uri = try await discovered().jwksURI
        struct KeySet: Decodable { let keys: [JWK] }
        let set: KeySet = try await fetchJSON(uri.absoluteString)
        let collection = JWTKeyCollection()
        var algorithms: [String: String?] = [:]
        for key in set.keys {
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
