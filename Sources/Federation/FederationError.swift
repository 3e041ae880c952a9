/// Why a federated sign-in was refused. Each is audited; the person sees only that it failed.
public enum FederationError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownProvider(String)
    /// Discovery, keys or the token endpoint could not be reached or answered badly.
    case providerUnavailable(provider: String, reason: String)
    /// The browser's sign-in state is missing, expired, forged or for another provider.
    case stateMismatch(String)
    /// The provider answered the authorization request with an error.
    case providerRefused(String)
    /// RFC 9207: the response names another issuer (mix-up), or omits it where promised.
    case issuerMismatch(expected: String, received: String?)
    case tokenExchangeFailed(String)
    case invalidIDToken(String)

    public var description: String {
        switch self {
        case let .unknownProvider(id): "no identity provider '\(id)'"
        case let .providerUnavailable(provider, reason): "identity provider \(provider) unavailable: \(reason)"
        case let .stateMismatch(reason): "sign-in state mismatch: \(reason)"
        case let .providerRefused(error): "the identity provider refused: \(error)"
        case let .issuerMismatch(expected, received): "authorization response from issuer \(received ?? "(none)"), expected \(expected)"
        case let .tokenExchangeFailed(reason): "code exchange failed: \(reason)"
        case let .invalidIDToken(reason): "id_token refused: \(reason)"
        }
    }
}
