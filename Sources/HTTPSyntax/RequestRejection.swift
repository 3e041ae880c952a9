/// Why a request was refused before routing: it could not be made unambiguous, so the router,
/// the policy engine, the audit log and the upstream might each have understood it differently.
///
/// Every case becomes a 400. `description` is the human message shown in the JSON body and
/// written to the audit log; client-supplied text in it is truncated and reduced to printable
/// ASCII.
public enum RequestRejection: Error, Equatable, Sendable, CustomStringConvertible {
    // MARK: Host

    /// Neither `:authority` nor a `Host` header field names the host.
    case missingHost
    /// A `Host` header field came in addition to the authority (HTTP/1 duplicate `Host`, or
    /// HTTP/2 `host` beside `:authority`): two hosts that parsers may pick differently.
    case duplicateHost
    /// The host is empty (`Host:` with no value, or only a port or a dot).
    case emptyHost
    /// The host contains bytes outside ASCII; internationalized names must arrive as punycode.
    case nonASCIIHost
    /// The host is not a DNS name, IPv4 address or bracketed IPv6 literal.
    case invalidHost(reason: String)
    /// The port after the host is empty, not a number, or outside 1–65535.
    case invalidPort

    // MARK: Request target

    /// There is no request target (`:path`) at all.
    case missingTarget
    /// The target is neither origin-form (`/path?query`) nor absolute-form with http or https
    /// (authority-form `CONNECT host:port`, relative references, other schemes).
    case unsupportedTargetForm
    /// `OPTIONS *`: well-formed, but it addresses the server, not a route.
    case asteriskFormNotRouted
    /// An absolute-form target (`http://host/path`) names another host or port than `Host`.
    case absoluteFormHostMismatch
    /// A `#` is on the wire; fragments belong to the client and are never sent.
    case fragmentInTarget
    /// The target contains a byte that is not visible ASCII (space, tab, control, raw UTF-8).
    case invalidCharacterInTarget(byte: UInt8)
    /// A raw `\` in the path, which Windows-style backends treat as `/`.
    case backslashInPath
    /// `%2F`: an encoded `/` that a backend may decode into a segment boundary we never saw.
    case encodedSlash
    /// `%5C`: an encoded `\`.
    case encodedBackslash
    /// `%2E`: an encoded `.`, the classic way to hide a `..` segment from a router.
    case encodedDot
    /// `%00`: an encoded NUL, which truncates paths in C-based backends.
    case encodedNUL
    /// A percent-encoded control character (`%09`, `%0A`, `%0D`, `%7F`, ...).
    case encodedControlCharacter
    /// A `%` not followed by two hexadecimal digits (`%zz`, or cut short at the end).
    case invalidPercentEncoding
    /// The percent-decoded path is not valid UTF-8.
    case invalidUTF8InPath
    /// The decoded path still contains a `%XX` escape (`%252e`): a backend that decodes again
    /// would see a different path than the one authorized.
    case doubleEncodedPath
    /// A `..` segment climbs above the root.
    case pathAboveRoot
    /// A `;` in the path, raw or as `%3B`: servlet containers strip `;params` from segments, so
    /// they would route `/v1/admin;x/settings` as `/v1/admin/settings` and `/..;/admin` as
    /// `/../admin`, paths the router and the policies never saw.
    case pathParameter

    // MARK: Header fields

    /// A header name with `_`, which CGI/WSGI/PHP-style upstreams map to `-` (`X_Auth_User`).
    case underscoreInHeaderName(String)
    /// A header value with a control character other than horizontal tab.
    case controlCharacterInHeaderValue(name: String)
    /// A header value that is not valid UTF-8, or contains U+FFFD (the mark SwiftNIO's
    /// decoders leave where the wire bytes were not UTF-8); the upstream, the audit log and
    /// the policy context would each get a different, lossy copy of it.
    case nonUTF8HeaderValue(name: String)
    /// Both `Content-Length` and `Transfer-Encoding`: the two framings disagree (CL.TE / TE.CL).
    case contentLengthWithTransferEncoding
    /// Several `Content-Length` fields with different values.
    case conflictingContentLength
    /// A `Content-Length` that is not a plain decimal number.
    case invalidContentLength
    /// A `Transfer-Encoding` other than exactly one `chunked`.
    case unsupportedTransferEncoding(String)

    public var description: String {
        switch self {
        case .missingHost: "the request names no host (no :authority or Host)"
        case .duplicateHost: "the request carries more than one Host"
        case .emptyHost: "the host is empty"
        case .nonASCIIHost: "the host contains non-ASCII bytes; use its punycode (xn--) form"
        case let .invalidHost(reason): "invalid host: \(reason)"
        case .invalidPort: "the port is not a number from 1 to 65535"
        case .missingTarget: "the request has no target path"
        case .unsupportedTargetForm: "the request target must be a path starting with '/' (or an http/https URL for this host)"
        case .asteriskFormNotRouted: "OPTIONS * is not routed"
        case .absoluteFormHostMismatch: "the absolute-form target names another host than Host"
        case .fragmentInTarget: "the request target contains a fragment ('#')"
        case let .invalidCharacterInTarget(byte):
            "the request target contains the byte 0x\(String(byte, radix: 16, uppercase: true)), which must be percent-encoded"
        case .backslashInPath: "the path contains '\\'"
        case .encodedSlash: "the path contains an encoded '/' (%2F)"
        case .encodedBackslash: "the path contains an encoded '\\' (%5C)"
        case .encodedDot: "the path contains an encoded '.' (%2E)"
        case .encodedNUL: "the path contains an encoded NUL (%00)"
        case .encodedControlCharacter: "the path contains an encoded control character"
        case .invalidPercentEncoding: "the path contains a '%' not followed by two hexadecimal digits"
        case .invalidUTF8InPath: "the decoded path is not valid UTF-8"
        case .doubleEncodedPath: "the path is percent-encoded twice (decoded path still contains %XX)"
        case .pathAboveRoot: "a '..' segment climbs above the root"
        case .pathParameter: "the path contains ';' (path parameters are not accepted)"
        case let .underscoreInHeaderName(name): "the header name \(quotedForLog(name)) contains '_'"
        case let .controlCharacterInHeaderValue(name): "the value of header \(quotedForLog(name)) contains a control character"
        case let .nonUTF8HeaderValue(name): "the value of header \(quotedForLog(name)) is not valid UTF-8"
        case .contentLengthWithTransferEncoding: "the request has both Content-Length and Transfer-Encoding"
        case .conflictingContentLength: "the request has Content-Length fields with different values"
        case .invalidContentLength: "Content-Length is not a decimal number"
        case let .unsupportedTransferEncoding(value): "Transfer-Encoding \(quotedForLog(value)) is not supported (only 'chunked')"
        }
    }
}
