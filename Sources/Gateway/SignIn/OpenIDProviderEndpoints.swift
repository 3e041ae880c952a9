import Foundation

/// Portcullis as the OpenID provider of the company's tools, as the sign-in host's pages use it.
/// The pages handle the browser (the session, re-authentication, the Cedar decision
/// `Action::"oidc.sign_in"` on `Client::"<id>"`, the denial page); this protocol handles the
/// protocol: clients, codes, tokens and keys. `portcullis serve` wires the implementation.
public protocol OpenIDProviderEndpoints: Sendable {
    /// `/.well-known/openid-configuration` for `issuer` (the sign-in host's origin).
    func discovery(issuer: String) -> [UInt8]
    /// The public keys id_tokens and access tokens are signed with, published ahead of use.
    func keySet() -> [UInt8]
    /// Checks an authorization request's parameters.
    func check(authorization query: [String: String], issuer: String) async -> OpenIDAuthorizationCheck
    /// Issues a code to the person for an allowed request: the URL the browser goes back to.
    func authorize(
        _ request: OpenIDAuthorizationRequest, person: OpenIDPerson, issuer: String, client: SignInClient
    ) async -> OpenIDAuthorizationOutcome
    /// The token endpoint (form fields of the POST body, the `Authorization` header).
    func token(form: [String: String], authorization: String?, issuer: String, client: SignInClient) async -> OpenIDAnswer
    /// The userinfo endpoint (the bearer access token in `Authorization`).
    func userInfo(authorization: String?, issuer: String) async -> OpenIDAnswer
    /// RFC 7009 token revocation.
    func revoke(form: [String: String], authorization: String?, issuer: String, client: SignInClient) async -> OpenIDAnswer
    /// Whether a page of `origin` may call the token, revocation and userinfo endpoints from the
    /// browser (CORS): only the origin of a public client's registered redirect URI (a single-page
    /// app; a confidential client calls from its server).
    func allowsBrowserOrigin(_ origin: String) async -> Bool
    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): which tool asks, and where the
    /// browser may go after signing out (only a URI that tool registered).
    func checkLogout(_ query: [String: String], issuer: String) async -> OpenIDLogoutCheck
}

/// What an RP-initiated logout request allows.
public enum OpenIDLogoutCheck: Sendable {
    /// An unregistered `post_logout_redirect_uri`, an id_token_hint not ours, a client mismatch.
    case refused(reason: String)
    /// `redirect`: the registered URI with `state`, or nil to stay on the sign-in host.
    case valid(clientName: String?, redirect: String?)
}

/// What an authorization request's parameters allow.
public enum OpenIDAuthorizationCheck: Sendable {
    /// The client or its redirect URI is unknown or wrong: shown to the person, never redirected
    /// (RFC 6749 §4.1.2.1: the redirect URI cannot be trusted).
    case refused(reason: String)
    /// Anything else wrong goes back to the client's (verified) redirect URI with an OAuth error.
    case redirectedError(url: String, reason: String)
    case valid(OpenIDAuthorizationRequest)
}

/// A checked authorization request.
public struct OpenIDAuthorizationRequest: Sendable {
    public let clientID: String
    public let clientName: String
    /// Tags of `Client::"<id>"` for the Cedar decision.
    public let labels: [String: String]
    public let redirectURI: String
    public let state: String?
    public let nonce: String?
    public let scopes: [String]
    public let codeChallenge: String?
    /// `none` (no page may be shown) or `login` (authenticate again), nil otherwise.
    public let prompt: String?
    /// The longest time since the person authenticated that the client accepts.
    public let maxAge: TimeInterval?

    public init(
        clientID: String, clientName: String, labels: [String: String], redirectURI: String, state: String?, nonce: String?,
        scopes: [String], codeChallenge: String?, prompt: String?, maxAge: TimeInterval?
    ) {
        self.clientID = clientID
        self.clientName = clientName
        self.labels = labels
        self.redirectURI = redirectURI
        self.state = state
        self.nonce = nonce
        self.scopes = scopes
        self.codeChallenge = codeChallenge
        self.prompt = prompt
        self.maxAge = maxAge
    }

    /// The client's redirect URI with an OAuth error (and the `state` and `iss` it must carry).
    public func errorRedirect(_ error: String, description: String, issuer: String) -> String {
        OpenIDAuthorizationRequest.redirect(
            redirectURI, [("error", error), ("error_description", description), ("state", state), ("iss", issuer)])
    }

    /// `uri` with `parameters` added to its query (nil values left out).
    public static func redirect(_ uri: String, _ parameters: [(String, String?)]) -> String {
        guard var components = URLComponents(string: uri) else { return uri }
        let added = parameters.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        components.queryItems = (components.queryItems ?? []) + added
        let query = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        components.percentEncodedQuery = query
        return components.string ?? uri
    }
}

/// The signed-in person an authorization code is issued to.
public struct OpenIDPerson: Sendable {
    public let login: String
    public let sessionID: String
    public let authenticatedAt: Date
    /// `pwd`, `otp`/`mfa`, `fed` (with the provider), as the session records them.
    public let methods: [String]

    public init(login: String, sessionID: String, authenticatedAt: Date, methods: [String]) {
        self.login = login
        self.sessionID = sessionID
        self.authenticatedAt = authenticatedAt
        self.methods = methods
    }
}

/// Where the browser goes after an authorization.
public enum OpenIDAuthorizationOutcome: Sendable {
    case redirect(url: String, reason: String)
    /// The session ended meanwhile, or the store cannot be reached.
    case failed(reason: String, unavailable: Bool)
}

/// A back-channel answer: status, headers and a JSON body.
public struct OpenIDAnswer: Sendable {
    public let status: Int
    public let headers: [(String, String)]
    public let body: [UInt8]
    /// What the access record says.
    public let reason: String
    public let allowed: Bool

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8], reason: String, allowed: Bool) {
        self.status = status
        self.headers = headers
        self.body = body
        self.reason = reason
        self.allowed = allowed
    }
}
