import HTTPTypes

/// The client's request trailers as they may reach an upstream: what ``IdentityHeaderFilter``
/// removes from headers goes from trailers too (frameworks that merge trailers into headers
/// would otherwise take a trailing `X-Portcullis-Assertion` or `X-Forwarded-User` for the
/// gateway's), and so does every field RFC 9110 §6.5.1 rules out of trailers: framing,
/// routing, request modifiers, authentication and content metadata. A trailer named like one
/// of them could otherwise change how an upstream reads a request it already accepted.
enum RequestTrailerFilter {
    static let forbidden: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "content-length", "content-type", "content-encoding",
        "content-range", "content-location", "expect", "max-forwards", "range", "if-match", "if-none-match",
        "if-modified-since", "if-unmodified-since", "if-range", "cache-control", "pragma", "trailer", "www-authenticate",
    ]

    /// nil when nothing may pass.
    static func forwardable(_ fields: HTTPFields) -> HTTPFields? {
        let kept = IdentityHeaderFilter(keepsUpgrade: false).filtered(fields).filter {
            !forbidden.contains($0.name.canonicalName.lowercased())
        }
        return kept.isEmpty ? nil : HTTPFields(kept)
    }
}
