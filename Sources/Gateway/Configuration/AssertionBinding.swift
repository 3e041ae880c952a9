/// What a route's signed identity assertion is bound to (`assertion` in the configuration).
public enum AssertionBinding: String, Sendable, CaseIterable {
    /// A fresh assertion for every request: its `jti` is the request id and its `method` and
    /// `path` name the request, so an upstream can refuse a replay or a retargeted assertion.
    /// One Ed25519 signature per request.
    case perRequest = "per_request"
    /// One assertion per principal, session, roles, groups and route, reused for up to half its
    /// lifetime (30 s by default): no `method` or `path` claim, and a `jti` shared by the
    /// requests that reuse it (the id of the request that minted it). Saves the signature on
    /// every other request; an upstream can no longer tell one request's assertion from
    /// another's, so a copied assertion can be replayed to it, for any method and path, until
    /// it expires. For upstreams that act on `sub`, `roles` and `groups` only.
    case perSession = "per_session"
}
