import HTTPTypes

/// Turns an `HTTPRequest` into the ``CanonicalRequest`` used for routing, policy, audit and
/// forwarding alike, or refuses it with a ``RequestRejection`` (400) when it cannot be made
/// unambiguous. Computed once per request; nothing downstream re-parses the raw target.
///
/// The request must carry the target exactly as it was on the wire in `path` (origin-form,
/// absolute-form or `*`; over HTTP/1.1 the last two arrive as ``HTTP1Target`` carries them),
/// and the host in `authority` (HTTP/2 `:authority`, or the HTTP/1 `Host`).
///
/// **Host.** From `authority`; a `Host` header field present in addition is refused, as is a
/// lone `Host` field repeated when there is no authority. Lower-cased, one trailing dot
/// removed, port split off and checked (1–65535). DNS names (punycode kept as-is), IPv4 and
/// bracketed IPv6 literals; non-ASCII, empty or otherwise invalid hosts are refused.
///
/// **Target.** Only visible ASCII; `#` anywhere is refused (fragments are never sent).
/// Origin-form `/path?query`; absolute-form `http(s)://authority/path?query` only when its
/// authority canonicalizes to the same host and port as the request's; `OPTIONS *` and any
/// other form are refused. The query starts after the first `?`, is forwarded byte-for-byte
/// and is never matched against routes.
///
/// **Path: the one normalization rule.**
/// 1. Percent-decode once. Refused: `\` raw or `%5C`; `%2F`; `%2E`; `%00` and other encoded
///    control characters; invalid or truncated escapes; decoded bytes that are not UTF-8; a
///    decoded result that still contains a `%XX` escape (double encoding). Because neither
///    `/` nor `.` can be encoded, segment boundaries and dot segments are exactly those
///    visible on the wire, so decoding before or after splitting gives the same result.
/// 2. Split on `/` and normalize: empty segments (duplicate slashes) are dropped, `.` segments
///    removed, each `..` removes the segment before it; a `..` with nothing before it is
///    refused. A trailing slash is kept (`/admin/` stays `/admin/`, and `/a/.` or `/a/b/..`
///    end in `/`).
/// 3. A `;`, raw or `%3B`, is refused: servlet containers strip `;params` from segments before
///    routing and resolving dot segments, so `/v1/admin;x/settings` and `/..;/admin` would
///    reach them as paths the router and the policies never saw.
/// 4. Case is preserved: `/ADMIN` is a different path from `/admin`. Routes match
///    case-sensitively and policies see the same path; rules that must also hold against
///    upstreams that ignore case use `context.http.lowercased_path`.
///
/// Upstream receives ``CanonicalRequest/forwardedTarget``: the canonical path with only the
/// bytes outside RFC 3986 `pchar` percent-encoded, then `?` and the raw query.
///
/// **Header fields.** Refused: a name containing `_`; a value with a control character other
/// than HTAB, or that is not UTF-8 (including U+FFFD, which is what SwiftNIO's decoders
/// leave of invalid UTF-8); `Content-Length` together with `Transfer-Encoding`;
/// differing or non-numeric `Content-Length` values; any `Transfer-Encoding` other than one
/// `chunked` (case-insensitive).
public enum RequestCanonicalizer {
    public static func canonicalize(_ request: HTTPRequest) throws(RequestRejection) -> CanonicalRequest {
        let fields = try checkedHeaderFields(request.headerFields)
        let (host, port) = try requestHost(request, hostFieldCount: fields.hostFieldCount)
        guard let target = request.pseudoHeaderFields.path else { throw .missingTarget }
        let (path, query) = try target.withUnsafeBytesOfValue { (bytes) throws(RequestRejection) in
            try pathAndQuery(ofTarget: HTTP1Target.unwrapped(bytes), method: request.method, host: host, port: port)
        }
        return CanonicalRequest(
            method: request.method,
            host: host,
            port: port,
            path: path,
            query: query,
            bodyFraming: fields.bodyFraming,
            headerFields: request.headerFields
        )
    }

    /// The canonical form of a raw origin-form path (no query), by the same rule as a whole
    /// request: for servers that route on a path another layer has already taken apart.
    public static func canonicalPath(_ rawPath: String) throws(RequestRejection) -> String {
        try Array(rawPath.utf8).withUnsafeBufferPointer { (bytes) throws(RequestRejection) in
            for byte in bytes {
                guard ASCII.isVisible(byte) else { throw .invalidCharacterInTarget(byte: byte) }
                if byte == ASCII.hash { throw .fragmentInTarget }
            }
            guard bytes.first == ASCII.slash else { throw .unsupportedTargetForm }
            return try CanonicalPath.canonicalize(bytes)
        }
    }

    // MARK: Host

    /// HTTPTypes marks `.host` unavailable to steer clients to `authority`; we need the field
    /// itself to detect a second host.
    private static let hostFieldName = HTTPField.Name("Host")!

    private static func requestHost(_ request: HTTPRequest, hostFieldCount: Int) throws(RequestRejection) -> (String, UInt16?) {
        if let authority = request.pseudoHeaderFields.authority {
            guard hostFieldCount == 0 else { throw .duplicateHost }
            return try authority.withUnsafeBytesOfValue { (bytes) throws(RequestRejection) in
                try HostSyntax.parseAuthority(bytes)
            }
        }
        guard hostFieldCount == 1, let hostField = request.headerFields[fields: hostFieldName].first else {
            throw hostFieldCount == 0 ? .missingHost : .duplicateHost
        }
        return try hostField.withUnsafeBytesOfValue { (bytes) throws(RequestRejection) in
            try HostSyntax.parseAuthority(bytes)
        }
    }

    // MARK: Target

    private static func pathAndQuery(
        ofTarget target: UnsafeBufferPointer<UInt8>,
        method: HTTPRequest.Method,
        host: String,
        port: UInt16?
    ) throws(RequestRejection) -> (String, String?) {
        for byte in target {
            guard ASCII.isVisible(byte) else { throw .invalidCharacterInTarget(byte: byte) }
            if byte == ASCII.hash { throw .fragmentInTarget }
        }
        if target.count == 1, target[0] == ASCII.asterisk {
            throw method == .options ? .asteriskFormNotRouted : .unsupportedTargetForm
        }
        let originForm = try originFormPart(ofTarget: target, host: host, port: port)
        let queryStart = originForm.firstIndex(of: ASCII.questionMark)
        let rawPath = UnsafeBufferPointer(rebasing: originForm[..<(queryStart ?? originForm.count)])
        let path = rawPath.isEmpty ? "/" : try CanonicalPath.canonicalize(rawPath)
        let query = queryStart.map { String(decoding: originForm[($0 + 1)...], as: UTF8.self) }
        return (path, query)
    }

    /// The `/path?query` part of an origin-form or absolute-form target. For absolute-form
    /// the path may be empty (`http://host` or `http://host?q`), meaning `/`.
    private static func originFormPart(
        ofTarget target: UnsafeBufferPointer<UInt8>,
        host: String,
        port: UInt16?
    ) throws(RequestRejection) -> UnsafeBufferPointer<UInt8> {
        if target.first == ASCII.slash { return target }
        guard let schemeLength = absoluteFormSchemeLength(target) else { throw .unsupportedTargetForm }
        let afterScheme = target[schemeLength...]
        let authorityEnd = afterScheme.firstIndex { $0 == ASCII.slash || $0 == ASCII.questionMark } ?? target.count
        let (targetHost, targetPort) = try HostSyntax.parseAuthority(UnsafeBufferPointer(rebasing: target[schemeLength..<authorityEnd]))
        guard targetHost == host, targetPort == port else { throw .absoluteFormHostMismatch }
        return UnsafeBufferPointer(rebasing: target[authorityEnd...])
    }

    /// The length of a leading `http://` or `https://` (case-insensitive), or nil.
    private static func absoluteFormSchemeLength(_ target: UnsafeBufferPointer<UInt8>) -> Int? {
        for scheme in ["http://", "https://"] {
            let length = scheme.utf8.count
            if target.count >= length, zip(target, scheme.utf8).allSatisfy({ ASCII.lowercased($0) == $1 }) {
                return length
            }
        }
        return nil
    }

    // MARK: Header fields

    private struct CheckedHeaderFields {
        var hostFieldCount: Int
        var bodyFraming: BodyFraming
    }

    private static func checkedHeaderFields(_ fields: HTTPFields) throws(RequestRejection) -> CheckedHeaderFields {
        var hostFieldCount = 0
        var contentLength: Int?
        var transferEncodings: [String] = []
        for field in fields {
            let name = field.name.canonicalName
            guard !name.utf8.contains(ASCII.underscore) else { throw .underscoreInHeaderName(field.name.rawName) }
            try field.withUnsafeBytesOfValue { (bytes) throws(RequestRejection) in
                if bytes.contains(where: { ASCII.isControl($0) && $0 != ASCII.tab }) {
                    throw .controlCharacterInHeaderValue(name: name)
                }
                if bytes.contains(where: { $0 >= 0x80 }), !ASCII.isValidUTF8(bytes) || containsReplacementCharacter(bytes) {
                    throw .nonUTF8HeaderValue(name: name)
                }
            }
            switch field.name {
            case hostFieldName:
                hostFieldCount += 1
            case .contentLength:
                let value = try parsedContentLength(field.value)
                guard contentLength == nil || contentLength == value else { throw .conflictingContentLength }
                contentLength = value
            case .transferEncoding:
                transferEncodings.append(field.value)
            default:
                break
            }
        }
        let bodyFraming: BodyFraming
        switch (contentLength, transferEncodings.count) {
        case (nil, 0):
            bodyFraming = .unframed
        case let (length?, 0):
            bodyFraming = .contentLength(length)
        case (nil, 1) where transferEncodings[0].lowercased() == "chunked":
            bodyFraming = .chunked
        case (nil, _):
            throw .unsupportedTransferEncoding(transferEncodings.joined(separator: ", "))
        case (_?, _):
            throw .contentLengthWithTransferEncoding
        }
        return CheckedHeaderFields(hostFieldCount: hostFieldCount, bodyFraming: bodyFraming)
    }

    /// U+FFFD in UTF-8. SwiftNIO's HTTP/1 and HPACK decoders turn invalid UTF-8 into it, so
    /// its presence means the bytes on the wire were not UTF-8.
    private static func containsReplacementCharacter(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.indices.dropLast(2).contains { bytes[$0] == 0xEF && bytes[$0 + 1] == 0xBF && bytes[$0 + 2] == 0xBD }
    }

    /// Decimal digits only, at most 18 of them (no sign, no list, no whitespace).
    private static func parsedContentLength(_ value: String) throws(RequestRejection) -> Int {
        guard (1...18).contains(value.utf8.count), value.utf8.allSatisfy(ASCII.isDigit), let length = Int(value) else {
            throw .invalidContentLength
        }
        return length
    }
}
