import Foundation

/// One OpenID provider Portcullis signs people in with (`federation.providers` in the configuration).
public struct ProviderSettings: Sendable, Equatable {
    /// Lower-case letters, digits and hyphens: in callback paths, audit records and `context.auth`.
    public var id: String
    /// What the sign-in page's button says.
    public var displayName: String
    /// The provider's issuer identifier; discovery is `<issuer>/.well-known/openid-configuration`.
    public var issuer: URL
    public var clientID: String
    /// Read from `client_secret_file` at load; never logged.
    public var clientSecret: String
    public var scopes: [String] = ["openid", "email", "profile"]
    /// Claims that name the person: login, e-mail, and the group list.
    public var loginClaim = "preferred_username"
    public var emailClaim = "email"
    public var groupsClaim: String? = "groups"
    /// Added to the authorization request, for what a provider needs beyond the standard (Google
    /// gives a refresh token only with `access_type: offline`). Never the parameters Portcullis sets.
    public var authorizationParameters: [String: String] = [:]
    /// The authorization request parameters Portcullis sets itself; configuration may not replace them.
    public static let reservedParameters: Set<String> = [
        "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method",
    ]
    /// Creates a Portcullis user at the first sign-in of an identity not yet linked.
    public var createUsers = true
    /// An identity not yet linked may link to an existing local user whose e-mail is the verified
    /// e-mail of the identity, only in these domains; otherwise only an administrator links.
    public var linkVerifiedEmailDomains: [String] = []
    /// `amr` values (any one) or `acr` values that count as a second factor (`context.auth.mfa`).
    public var mfaAMR: [String] = []
    public var mfaACR: [String] = []
    /// Provider group → Portcullis memberships; unmapped groups are ignored.
    public var groupMapping: GroupMapping = GroupMapping()
    /// How often each session opened with this provider is checked with it (its refresh token):
    /// an account disabled there loses its sessions at the next check.
    public var revalidateEvery: TimeInterval = 300
    /// How long sessions outlive a provider that cannot be reached; then they end (fail closed).
    public var unreachableGrace: TimeInterval = 900

    public init(id: String, displayName: String, issuer: URL, clientID: String, clientSecret: String) {
        self.id = id
        self.displayName = displayName
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    /// An issuer must be `https`, except on loopback (a provider run beside Portcullis for tests).
    public static func isAcceptableIssuer(_ url: URL) -> Bool {
        guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased(), url.query == nil, url.fragment == nil
        else { return false }
        return scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host))
    }
}
