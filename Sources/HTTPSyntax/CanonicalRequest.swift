import HTTPTypes

/// The one interpretation of a request that routing, policy, audit and forwarding all use, so
/// none of them can disagree about which host and path were asked for.
///
/// Produced only by ``RequestCanonicalizer/canonicalize(_:)``; see there for the rules.
public struct CanonicalRequest: Sendable, Equatable {
    /// The request method, unchanged (Cedar's `Action::"<method>"`).
    public let method: HTTPRequest.Method
    /// Lower-case host without port or trailing dot (`admin.corp.com`, `[::1]`).
    public let host: String
    /// The port the client named in the authority, if any. Routing ignores it.
    public let port: UInt16?
    /// Percent-decoded, dot-segment-free path starting with `/`; case preserved. This is the
    /// path routes match, policies see (`context.http.path`) and the audit log records.
    public let path: String
    /// The query exactly as received, without the `?`; nil when the target had no `?`.
    /// Never matched against routes.
    public let query: String?
    /// How the request body is delimited, after the framing checks.
    public let bodyFraming: BodyFraming
    /// The client's header fields, validated but not yet filtered: pass them through
    /// ``IdentityHeaderFilter`` before forwarding.
    public let headerFields: HTTPFields

    /// The request target sent upstream: the canonical path re-encoded minimally, then the raw
    /// query. Canonicalizing it again yields the same path and query.
    public var forwardedTarget: String {
        let encodedPath = CanonicalPath.encoded(path)
        guard let query else { return encodedPath }
        return encodedPath + "?" + query
    }
}

/// How the request body is delimited, as established by the framing checks.
public enum BodyFraming: Sendable, Equatable {
    /// Neither `Content-Length` nor `Transfer-Encoding`: no body in HTTP/1.1; in HTTP/2 the
    /// body ends with the stream.
    case unframed
    /// A single agreed `Content-Length`.
    case contentLength(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
}
