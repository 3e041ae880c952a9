/// How a principal proved who it is: `context.auth.method`, and what a route accepts. A request
/// without credentials has none (`"none"` in the context).
public enum AuthMethod: String, Sendable, CaseIterable, Codable {
    /// A client certificate issued by the internal CA (services).
    case mtls
    /// `Authorization: Bearer` with a PASETO access token from the identity service.
    case token
    /// The browser session cookie set by the gateway's sign-in pages.
    case session

    /// The context's spelling of "no method" (an anonymous request).
    public static let noneLabel = "none"
}
