import Foundation
import Gateway
import Identity
import Tokens

/// Portcullis as the OpenID provider of the company's tools (issue 22): the endpoints the
/// sign-in host serves under `/.portcullis/oidc/`, over the identity store (clients, codes,
/// grants) and the RSA key ring. Every authorization, token, refresh and revocation is audited
/// by the identity service with the client, the person and the reason.
public struct OpenIDProviderService: OpenIDProviderEndpoints {
    let identity: IdentityService

    public init(identity: IdentityService) {
        self.identity = identity
    }

    public func discovery(issuer: String) -> [UInt8] { ProviderDiscovery.document(issuer: issuer) }

    public func keySet() -> [UInt8] {
        // The RSA keys, then the Ed25519 ones (for clients that asked for EdDSA id_tokens).
        let ed25519 = (try? JSONSerialization.jsonObject(with: identity.keys.verificationKeys.jwks())) as? [String: Any]
        let keys: [Any] = identity.keys.openIDKeys + ((ed25519?["keys"] as? [Any]) ?? [])
        return Array((try? JSONSerialization.data(withJSONObject: ["keys": keys], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
    }

    public func check(authorization query: [String: String], issuer: String) async -> OpenIDAuthorizationCheck {
        guard let id = query["client_id"] else { return .refused(reason: "no client_id") }
        do {
            return AuthorizationParameters.check(query, client: try await identity.store.openIDClient(id), issuer: issuer)
        } catch {
            return .refused(reason: "the identity store cannot be reached")
        }
    }

    public func authorize(
        _ request: OpenIDAuthorizationRequest, person: OpenIDPerson, issuer: String, client: SignInClient
    ) async -> OpenIDAuthorizationOutcome {
        do {
            guard let registered = try await identity.store.openIDClient(request.clientID), let session = UUID(uuidString: person.sessionID)
            else { return .failed(reason: "client \(request.clientID) was removed", unavailable: false) }
            guard
                let code = try await identity.issueOpenIDCode(
                    client: registered, sessionID: session, login: person.login, redirectURI: request.redirectURI,
                    codeChallenge: request.codeChallenge, nonce: request.nonce, scopes: request.scopes, authTime: person.authenticatedAt,
                    amr: person.methods, from: ClientInfo(address: client.address, userAgent: client.userAgent))
            else { return .failed(reason: "the session ended", unavailable: false) }
            return .redirect(
                url: OpenIDAuthorizationRequest.redirect(request.redirectURI, [("code", code), ("state", request.state), ("iss", issuer)]),
                reason: "authorization code issued to \(request.clientID)")
        } catch {
            return .failed(reason: "the identity store cannot be reached", unavailable: true)
        }
    }

    public func token(form: [String: String], authorization: String?, issuer: String, client info: SignInClient) async -> OpenIDAnswer {
        let from = ClientInfo(address: info.address, userAgent: info.userAgent)
        let credentials: ClientCredentials
        let client: OpenIDClient
        do {
            credentials = try ClientCredentials.read(form: form, authorization: authorization)
        } catch {
            return error.answer
        }
        do {
            client = try await credentials.authenticate(with: identity, audiences: [issuer, issuer + ProviderDiscovery.tokenPath])
        } catch {
            identity.recordOpenID(
                "oidc.token", login: nil, outcome: "failure", client: credentials.clientID, from: from, details: error.answer.reason)
            return error.answer
        }
        let grant: OpenIDGrant
        let nonce: String?
        let refreshToken: String?
        do {
            switch form["grant_type"] {
            case "authorization_code":
                guard let code = form["code"] else { return OAuthAnswer.error("invalid_request", "code is required") }
                (grant, nonce, refreshToken) = try await identity.redeemOpenIDCode(
                    code, client: client, redirectURI: form["redirect_uri"], verifier: form["code_verifier"], refresh: true, from: from)
            case "refresh_token":
                guard let token = form["refresh_token"] else { return OAuthAnswer.error("invalid_request", "refresh_token is required") }
                (grant, refreshToken) = try await identity.refreshOpenIDGrant(token, client: client, from: from)
                nonce = nil
            case nil: return OAuthAnswer.error("invalid_request", "grant_type is required")
            case let other?: return OAuthAnswer.error("unsupported_grant_type", "grant_type \(other.prefix(40)) is not supported")
            }
        } catch let refusal {
            switch refusal {
            case let .invalidGrant(reason): return OAuthAnswer.error("invalid_grant", reason)
            case .unavailable: return OAuthAnswer.unavailable
            }
        }
        do {
            let user = try await identity.store.requireUser(login: grant.login)
            let tokens = try IssuedTokens.mint(for: grant, user: user, client: client, nonce: nonce, issuer: issuer, keys: identity.keys)
            var answer: [String: Any] = [
                "access_token": tokens.accessToken, "token_type": "Bearer", "expires_in": tokens.expiresIn, "id_token": tokens.idToken,
                "scope": grant.scopes.joined(separator: " "),
            ]
            if let refreshToken { answer["refresh_token"] = refreshToken }
            return OAuthAnswer.json(200, answer, reason: "tokens issued to \(client.id) for \(grant.login)", allowed: true)
        } catch {
            return OAuthAnswer.unavailable
        }
    }

    public func userInfo(authorization: String?, issuer: String) async -> OpenIDAnswer {
        func refused(_ why: String) -> OpenIDAnswer {
            OAuthAnswer.error(
                "invalid_token", why, status: 401, challenge: #"Bearer error="invalid_token", error_description="\#(why)""#)
        }
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else {
            return OAuthAnswer.json(
                401, ["error": "invalid_request", "error_description": "a bearer access token is required"], reason: "no access token",
                allowed: false, headers: [("www-authenticate", #"Bearer realm="portcullis""#)])
        }
        let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard let payload = RSASigningKey.verifiedPayload(token, keys: identity.keys.openIDKeys, type: "at+jwt"),
            let claims = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any]
        else { return refused("the access token is not one of this provider's") }
        guard claims["iss"] as? String == issuer else { return refused("the access token is from another issuer") }
        guard let expiry = claims["exp"] as? Int, Double(expiry) > Date().timeIntervalSince1970 else {
            return refused("the access token has expired")
        }
        guard let grantText = claims["gid"] as? String, let grantID = UUID(uuidString: grantText) else { return refused("no grant") }
        do {
            guard let grant = try await identity.standingOpenIDGrant(grantID), claims["client_id"] as? String == grant.clientID,
                let client = try await identity.store.openIDClient(grant.clientID)
            else { return refused("the grant has ended (sign-out, revocation, or a disabled account)") }
            let user = try await identity.store.requireUser(login: grant.login)
            guard IssuedTokens.subject(of: user) == claims["sub"] as? String else { return refused("the access token names another subject") }
            return OAuthAnswer.json(
                200, IssuedTokens.personClaims(user, client: client, scopes: grant.scopes), reason: "userinfo for \(client.id)", allowed: true)
        } catch {
            return OAuthAnswer.unavailable
        }
    }

    public func revoke(form: [String: String], authorization: String?, issuer: String, client info: SignInClient) async -> OpenIDAnswer {
        let from = ClientInfo(address: info.address, userAgent: info.userAgent)
        let client: OpenIDClient
        do {
            client = try await ClientCredentials.read(form: form, authorization: authorization)
                .authenticate(with: identity, audiences: [issuer, issuer + ProviderDiscovery.tokenPath, issuer + ProviderDiscovery.revocationPath])
        } catch {
            return error.answer
        }
        guard let token = form["token"] else { return OAuthAnswer.error("invalid_request", "token is required") }
        do {
            try await identity.revokeOpenIDToken(token, client: client, from: from)
        } catch {
            return OAuthAnswer.unavailable
        }
        // §2.2: 200 whether or not the token was known; access tokens expire on their own.
        return OpenIDAnswer(status: 200, headers: OAuthAnswer.noStore, body: [], reason: "revocation by \(client.id)", allowed: true)
    }

    public func checkLogout(_ query: [String: String], issuer: String) async -> OpenIDLogoutCheck {
        var clientID = query["client_id"]
        if let hint = query["id_token_hint"] {
            // Our own id_token, expired or not (§2: the hint names the session and the tool).
            guard let audience = IssuedTokens.audience(ofOwn: hint, issuer: issuer, keys: identity.keys) else {
                return .refused(reason: "id_token_hint is not an id_token of this provider")
            }
            if let clientID, clientID != audience { return .refused(reason: "client_id differs from the id_token_hint's audience") }
            clientID = audience
        }
        guard let uri = query["post_logout_redirect_uri"] else {
            return .valid(clientName: nil, redirect: nil)
        }
        guard let clientID else { return .refused(reason: "post_logout_redirect_uri without the client (id_token_hint or client_id)") }
        do {
            guard let client = try await identity.store.openIDClient(clientID) else { return .refused(reason: "unknown client") }
            guard client.postLogoutRedirectURIs.contains(uri) else {
                return .refused(reason: "post_logout_redirect_uri is not one registered for client \(client.id)")
            }
            return .valid(clientName: client.name, redirect: OpenIDAuthorizationRequest.redirect(uri, [("state", query["state"])]))
        } catch {
            return .refused(reason: "the identity store cannot be reached")
        }
    }

    public func allowsBrowserOrigin(_ origin: String) async -> Bool {
        guard let clients = try? await identity.store.listOpenIDClients() else { return false }
        return clients.contains { client in
            !client.confidential && client.redirectURIs.contains { Self.origin(of: $0) == origin }
        }
    }

    /// `scheme://host[:port]` of a URI, as a browser's `Origin` names it.
    static func origin(of uri: String) -> String? {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased()
        else { return nil }
        return scheme + "://" + host + (components.port.map { ":\($0)" } ?? "")
    }
}
