import HTTPSyntax
import HTTPTypes

/// Cleans client header fields before they are forwarded upstream: removes every field that
/// could carry identity or routing information, the hop-by-hop fields, the client's `Host`
/// (an HTTP/2 client may send one as a plain field; the gateway names the upstream's own, and
/// a second `Host` line upstream is a smuggling vector), and the gateway's session cookie.
/// Apply it to the client's fields *before* the gateway adds its own (`X-Forwarded-*`,
/// `X-Request-Id`, `X-Portcullis-Assertion`), so a client can never supply or pre-empt them.
///
/// Names are compared case-insensitively with `_` and `-` treated as equal, because upstreams
/// that map `_` to `-` (CGI, WSGI, PHP) would otherwise accept `X-Auth_Request_User`
/// (oauth2-proxy CVE-2025-64484). The canonicalizer already refuses `_` in names; the filter
/// does not rely on that.
///
/// `Authorization` is not removed here: whether a bearer token is forwarded depends on the
/// route's authentication method and is decided by the caller.
public struct IdentityHeaderFilter: Sendable {
    /// A name in ``identityHeaders``, written lower-case with `-`.
    public enum NameRule: Sendable, Equatable {
        /// Exactly this name.
        case name(String)
        /// Every name starting with this text.
        case prefix(String)

        var text: String {
            switch self {
            case let .name(text), let .prefix(text): text
            }
        }
    }

    /// Fields that carry identity or routing claims in some proxy, IdP or upstream framework.
    /// A client must never be able to set any of them.
    public static let identityHeaders: [NameRule] = [
        .prefix("x-portcullis"),  // our own assertion and anything we may add later
        .prefix("x-forwarded"),  // -for, -host, -proto, -uri, -user, -client-cert, ...
        .name("forwarded"),  // RFC 7239
        .name("x-real-ip"),
        .name("x-original-url"),  // IIS/Symfony rewrite
        .name("x-rewrite-url"),
        .name("x-original-uri"),  // nginx auth_request convention
        .name("x-original-host"),
        .name("x-original-forwarded-for"),
        .prefix("x-envoy"),  // x-envoy-original-path (CVE-2023-27487) and the rest
        .prefix("x-auth-request"),  // oauth2-proxy
        .name("remote-user"),  // Authelia
        .name("remote-email"),
        .name("remote-groups"),
        .name("remote-name"),
        .name("x-remote-user"),
        .name("x-user"),
        .name("x-email"),
        .prefix("x-pomerium"),  // claims and jwt assertion
        .prefix("x-goog-authenticated"),  // IAP
        .prefix("cf-access"),  // Cloudflare Access
        .prefix("x-amzn-oidc"),  // AWS ALB
        .prefix("x-client-cert"),  // client certificate forwarding, any suffix
        .prefix("x-ssl"),  // nginx/HAProxy client certificate variables
        .prefix("x-ms-client-principal"),  // Azure App Service
    ]

    /// RFC 9110 §7.6.1 connection-specific fields, plus the proxy credentials meant for us.
    /// Fields named in `Connection` are removed too.
    public static let hopByHopHeaders: [String] = [
        "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade",
        "proxy-authorization", "proxy-authenticate",
    ]

    /// The gateway's browser session cookie, which must never reach an upstream.
    public static let sessionCookieName = "__Host-portcullis"

    /// Keep `Upgrade` and send `Connection: upgrade` when the client asked for an upgrade;
    /// only for routes that allow WebSocket.
    public let keepsUpgrade: Bool
    /// The cookie removed from every `Cookie` field, with its `<name>-…` companions.
    public let removedCookieName: String

    public init(keepsUpgrade: Bool = false, removedCookieName: String = IdentityHeaderFilter.sessionCookieName) {
        self.keepsUpgrade = keepsUpgrade
        self.removedCookieName = removedCookieName
    }

    /// The fields to forward, in their original order.
    public func filtered(_ fields: HTTPFields) -> HTTPFields {
        let connectionOptions = Self.connectionOptions(fields)
        let upgrades = keepsUpgrade && connectionOptions.contains("upgrade")
        var result = HTTPFields()
        result.reserveCapacity(fields.count)
        var wroteConnection = false
        for field in fields {
            let name = Self.folded(field.name)
            if name == "connection" {
                if upgrades, !wroteConnection {
                    result.append(HTTPField(name: .connection, value: "upgrade"))
                    wroteConnection = true
                }
                continue
            }
            if name == "upgrade", upgrades {
                result.append(field)
                continue
            }
            if Self.hopByHopNames.contains(name) || Self.isIdentityHeader(folded: name) || name == "host" {
                continue
            }
            // A client may not use `Connection` to drop the body's framing.
            if name != "content-length", connectionOptions.contains(name) {
                continue
            }
            if field.name == .cookie {
                if let value = Self.value(field.value, removingCookie: removedCookieName) {
                    result.append(HTTPField(name: field.name, value: value))
                }
                continue
            }
            result.append(field)
        }
        return result
    }

    /// Whether a field name is in ``identityHeaders``, in any spelling.
    public static func isIdentityHeader(_ name: HTTPField.Name) -> Bool {
        isIdentityHeader(folded: folded(name))
    }

    private static func isIdentityHeader(folded name: String) -> Bool {
        guard let first = name.utf8.first, Int(first) < identityHeadersByFirstByte.count else { return false }
        return identityHeadersByFirstByte[Int(first)].contains { rule in
            switch rule {
            case let .name(listed): name == listed
            case let .prefix(listed): name.utf8.starts(with: listed.utf8)
            }
        }
    }

    /// ``identityHeaders`` indexed by first byte, so each field name is compared only with the
    /// few rules that could match it.
    private static let identityHeadersByFirstByte: [[NameRule]] = {
        var table = [[NameRule]](repeating: [], count: 128)
        for rule in identityHeaders {
            table[Int(rule.text.utf8.first!)].append(rule)
        }
        return table
    }()

    /// An upstream response's fields without hop-by-hop headers and those its `Connection`
    /// names (RFC 9110 §7.6.1); the framing of the client connection is the server's business.
    public static func removingHopByHop(from fields: HTTPFields) -> HTTPFields {
        let connectionOptions = Self.connectionOptions(fields)
        var result = HTTPFields()
        result.reserveCapacity(fields.count)
        for field in fields {
            let name = folded(field.name)
            if hopByHopNames.contains(name) || (name != "content-length" && connectionOptions.contains(name)) { continue }
            result.append(field)
        }
        return result
    }

    private static let hopByHopNames = Set(hopByHopHeaders)

    /// Lower case with `_` spelled `-`: the one form every comparison uses.
    private static func folded(_ name: HTTPField.Name) -> String {
        hyphenated(name.canonicalName)
    }

    private static func hyphenated(_ lowercased: String) -> String {
        guard lowercased.utf8.contains(ASCII.underscore) else { return lowercased }
        return String(decoding: lowercased.utf8.map { $0 == ASCII.underscore ? ASCII.hyphen : $0 }, as: UTF8.self)
    }

    /// Removes one cookie from every `Cookie` field, keeping the other cookies byte-for-byte
    /// and dropping fields that become empty. Cookie names are case-sensitive (RFC 6265).
    public static func removingCookie(named cookieName: String, from fields: HTTPFields) -> HTTPFields {
        var result = HTTPFields()
        result.reserveCapacity(fields.count)
        for field in fields {
            if field.name == .cookie {
                if let value = value(field.value, removingCookie: cookieName) {
                    result.append(HTTPField(name: field.name, value: value))
                }
            } else {
                result.append(field)
            }
        }
        return result
    }

    /// The `Cookie` value without the named cookie, or nil when nothing else is left.
    private static func value(_ value: String, removingCookie cookieName: String) -> String? {
        let bytes = Array(value.utf8)
        var kept: [ArraySlice<UInt8>] = []
        var removedAny = false
        for pair in bytes.split(separator: ASCII.semicolon, omittingEmptySubsequences: false) {
            let nameAndSpaces = pair.drop(while: isWhitespace).prefix { $0 != ASCII.equals }
            let nameEnd = nameAndSpaces.lastIndex { !isWhitespace($0) }.map { $0 + 1 } ?? nameAndSpaces.startIndex
            let name = nameAndSpaces[..<nameEnd]
            // The named cookie and its companions (`__Host-portcullis-csrf`) are all the gateway's own.
            if name.elementsEqual(cookieName.utf8)
                || (name.starts(with: cookieName.utf8) && name.dropFirst(cookieName.utf8.count).first == ASCII.hyphen)
            {
                removedAny = true
            } else {
                kept.append(pair)
            }
        }
        guard removedAny else { return value }
        let joined = Array(kept.joined(separator: [ASCII.semicolon])).drop(while: isWhitespace)
        return joined.isEmpty ? nil : String(decoding: joined, as: UTF8.self)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == ASCII.space || byte == ASCII.tab
    }

    /// The names listed in the `Connection` fields, folded.
    private static func connectionOptions(_ fields: HTTPFields) -> Set<String> {
        var options = Set<String>()
        for value in fields[values: .connection] {
            for option in value.split(separator: ",") {
                let name = option.trimmingPrefix(while: { $0 == " " || $0 == "\t" }).prefix { $0 != " " && $0 != "\t" }
                if !name.isEmpty { options.insert(hyphenated(name.lowercased())) }
            }
        }
        return options
    }
}
