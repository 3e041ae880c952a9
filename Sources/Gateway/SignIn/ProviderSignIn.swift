/// Sign-in through the company's identity providers (OpenID Connect), as the sign-in host's pages
/// use it. `portcullis serve` wires the relying party and the identity service here.
public protocol ProviderSignIn: Sendable {
    /// The configured providers, in order: the sign-in page offers each.
    var providers: [(id: String, displayName: String)] { get }
    /// Where to send the browser to sign in with `provider`, and the sealed state its cookie
    /// must carry back to the callback.
    func begin(provider: String, next: String, redirectURI: String) async throws(ProviderSignInFailure) -> (url: String, state: String)
    /// The provider's answer at its callback, checked against the browser's state cookie: the
    /// identity session opened, and where the browser continues (a path, checked by the caller).
    func complete(
        provider: String, query: [String: String], state: String?, redirectURI: String, client: SignInClient
    ) async throws(ProviderSignInFailure) -> (session: SignedInSession, next: String)
    /// A provider's back-channel logout: ends every session of the person its logout token names;
    /// how many there were.
    func backChannelLogout(provider: String, logoutToken: String) async throws(ProviderSignInFailure) -> Int
}

/// Why a sign-in with a provider did not succeed: what the audit record says, and whether the
/// provider or the identity store could not be reached (503) rather than the attempt refused.
public struct ProviderSignInFailure: Error, Sendable {
    public let reason: String
    public let unavailable: Bool

    public init(reason: String, unavailable: Bool) {
        self.reason = reason
        self.unavailable = unavailable
    }
}
