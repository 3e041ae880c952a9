import AsyncHTTPClient
import Foundation
import Tokens

/// Portcullis as an OpenID Connect relying party of any number of providers: the authorization
/// code flow with PKCE (S256), `state` and `nonce` bound to the browser by a sealed cookie, the
/// issuer checked on the response (RFC 9207), and the id_token verified strictly.
public final class RelyingParty: Sendable {
    private let providers: [String: OpenIDProvider]
    /// The providers in configuration order, for the sign-in page.
    public let choices: [(id: String, displayName: String)]
    private let stateKey: PasetoLocalKey

    /// `stateKey` seals the browser's sign-in state (derive it from the master key).
    public init(providers: [ProviderSettings], stateKey: PasetoLocalKey, http: HTTPClient = .shared) {
        self.providers = Dictionary(providers.map { ($0.id, OpenIDProvider(settings: $0, http: http)) }, uniquingKeysWith: { first, _ in first })
        self.choices = providers.map { ($0.id, $0.displayName) }
        self.stateKey = stateKey
    }

    public func settings(of id: String) -> ProviderSettings? { providers[id]?.settings }

    /// Where to send the browser, and the sealed state its cookie must carry back.
    public func begin(
        provider id: String, next: String, redirectURI: String, now: Date = Date()
    ) async throws(FederationError) -> (url: String, state: String) {
        guard let provider = providers[id] else { throw .unknownProvider(id) }
        let state = AuthorizationState(
            provider: id, state: OpaqueSecret.generate(prefix: ""), nonce: OpaqueSecret.generate(prefix: ""),
            verifier: OpaqueSecret.generate(prefix: "") + OpaqueSecret.generate(prefix: ""), next: next,
            expiresAt: now + AuthorizationState.lifetime)
        let url = try await provider.authorizationURL(for: state, redirectURI: redirectURI)
        do {
            return (url, try state.sealed(with: stateKey))
        } catch {
            throw .providerUnavailable(provider: id, reason: "cannot seal the sign-in state")
        }
    }

    /// The provider's answer at `provider`'s callback, checked against the browser's sealed state:
    /// the person it vouches for, and where the browser continues.
    public func complete(
        provider id: String, query: [String: String], state sealed: String?, redirectURI: String, now: Date = Date()
    ) async throws(FederationError) -> (identity: FederatedIdentity, next: String, refreshToken: String?) {
        guard let provider = providers[id] else { throw .unknownProvider(id) }
        guard let sealed else { throw .stateMismatch("no sign-in state cookie: the sign-in did not start in this browser") }
        let state = try AuthorizationState.open(sealed, with: stateKey, now: now)
        // Mix-up defence: a response at this provider's callback for a sign-in begun with another.
        guard state.provider == id else { throw .stateMismatch("the sign-in began with provider \(state.provider)") }
        guard let returned = query["state"], SecretComparison.equal(returned, state.state) else {
            throw .stateMismatch("the state parameter does not match this browser's")
        }
        try await provider.checkResponseIssuer(query["iss"])
        if let error = query["error"] { throw .providerRefused(String(error.prefix(100))) }
        guard let code = query["code"], !code.isEmpty else { throw .providerRefused("no code in the response") }
        let (claims, refreshToken) = try await provider.redeem(code: code, state: state, redirectURI: redirectURI, now: now)
        return (Self.identity(claims, settings: provider.settings), state.next, refreshToken)
    }

    /// The person a provider's back-channel logout token signs out: its (issuer, subject).
    public func loggedOut(
        provider id: String, logoutToken: String, now: Date = Date()
    ) async throws(FederationError) -> (issuer: String, subject: String) {
        guard let provider = providers[id] else { throw .unknownProvider(id) }
        return (provider.settings.issuer.absoluteString, try await provider.verify(logoutToken: logoutToken, now: now))
    }

    /// What the provider says now of a person signed in with it: still vouched for (with the
    /// rotated refresh token, and their identity as of now when it sent a new id_token), or not.
    public func revalidate(
        provider id: String, refreshToken: String, subject: String, now: Date = Date()
    ) async throws(FederationError) -> Revalidation {
        guard let provider = providers[id] else { throw .unknownProvider(id) }
        switch try await provider.refresh(refreshToken, subject: subject, now: now) {
        case let .valid(rotated, claims):
            return .vouched(refreshToken: rotated, identity: claims.map { Self.identity($0, settings: provider.settings) })
        case let .refused(reason):
            return .refused(reason)
        }
    }

    static func identity(_ claims: IDTokenClaims, settings: ProviderSettings) -> FederatedIdentity {
        let multiFactor = !Set(claims.amr).isDisjoint(with: settings.mfaAMR) || claims.acr.map(settings.mfaACR.contains) == true
        return FederatedIdentity(
            providerID: settings.id, issuer: claims.issuer ?? "", subject: claims.subject ?? "", login: claims.strings[settings.loginClaim],
            email: claims.strings[settings.emailClaim], emailVerified: claims.booleans["email_verified"] ?? false,
            groups: settings.groupsClaim.flatMap { claims.lists[$0] } ?? [], multiFactor: multiFactor,
            authenticatedAt: claims.authTime ?? claims.issuedAt ?? Date())
    }
}

/// The outcome of re-validating a session with its provider.
public enum Revalidation: Sendable {
    case vouched(refreshToken: String?, identity: FederatedIdentity?)
    /// The provider refused: the account was disabled or removed, or its grant revoked.
    case refused(String)
}
