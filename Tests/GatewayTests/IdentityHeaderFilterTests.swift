import HTTPTypes
import Testing

@testable import Gateway

/// §4.2: the upstream must never see a client-supplied identity or routing header, in any
/// spelling, and never the gateway's session cookie.
@Suite struct IdentityHeaderFilterTests {
    static func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs {
            fields.append(HTTPField(name: HTTPField.Name(name)!, value: value))
        }
        return fields
    }

    static func pairs(_ fields: HTTPFields) -> [String] {
        fields.map { "\($0.name.rawName): \($0.value)" }
    }

    static let spoofed = [
        // The reference file's test requests.
        "X-Forwarded-User", "X_Forwarded_User", "x-forwarded-user", "X-Auth-Request-Email", "Remote-User",
        "X-Pomerium-Claim-Email", "X-Pomerium-Jwt-Assertion", "x-goog-authenticated-user-email", "X-Forwarded-Uri",
        "X-Original-URL", "X-Rewrite-URL", "X-Envoy-Original-Path", "X-Forwarded-Host", "X-Forwarded-Proto",
        // oauth2-proxy CVE-2025-64484 spellings.
        "X-Auth_Request_User", "x_auth_request_user", "X-AUTH-REQUEST-USER", "x-auth-request-preferred-username",
        // The rest of the table, one per entry and some variants.
        "X-Portcullis-Assertion", "x-portcullis-anything", "X_PORTCULLIS_ASSERTION", "Forwarded", "X-Real-IP", "X-Real_Ip",
        "X-Original-URI", "X-Original-Host", "X-Original-Forwarded-For", "X-Forwarded-For", "X-Forwarded-Client-Cert",
        "x-envoy-external-address", "Remote-Email", "Remote-Groups", "Remote-Name", "Remote_Groups", "X-Remote-User",
        "X-User", "X-Email", "X-Pomerium-Claim-Groups", "X-Goog-Authenticated-User-Id", "Cf-Access-Authenticated-User-Email",
        "CF-Access-Jwt-Assertion", "X-Amzn-Oidc-Data", "X-Amzn-Oidc-Identity", "X-Client-Cert", "X-Client-Certificate",
        "X-Client-Cert-Chain", "X-SSL-Client-Cert", "X-Ssl-Client-S-Dn", "X-Ms-Client-Principal", "X-MS-CLIENT-PRINCIPAL-NAME",
    ]

    @Test(arguments: spoofed)
    func removesIdentityHeader(_ name: String) {
        let input = Self.fields([("Accept", "*/*"), (name, "admin"), ("User-Agent", "curl")])
        #expect(Self.pairs(IdentityHeaderFilter().filtered(input)) == ["Accept: */*", "User-Agent: curl"])
        #expect(IdentityHeaderFilter.isIdentityHeader(HTTPField.Name(name)!))
    }

    @Test(arguments: ["Authorization", "X-Role", "X-Request-Id", "Accept", "X-Users-Count", "X-Emailer", "Remote-Addr", "X-Forward"])
    func keepsOtherHeaders(_ name: String) {
        #expect(!IdentityHeaderFilter.isIdentityHeader(HTTPField.Name(name)!))
    }

    @Test func keepsUnrelatedHeadersInOrder() {
        let input = Self.fields([
            ("Accept", "text/html"), ("X-Forwarded-For", "1.2.3.4"), ("Authorization", "Bearer t"), ("X-Role", "user"),
            ("Remote-User", "admin"), ("X-Role", "admin"), ("Content-Type", "application/json"), ("Content-Length", "2"),
        ])
        #expect(
            Self.pairs(IdentityHeaderFilter().filtered(input)) == [
                "Accept: text/html", "Authorization: Bearer t", "X-Role: user", "X-Role: admin",
                "Content-Type: application/json", "Content-Length: 2",
            ])
    }

    /// An HTTP/2 client may send `host` as a plain field; forwarded, the upstream would read it
    /// beside the `Host` the gateway writes (issue 18, item 7).
    @Test func removesTheClientsHostInAnySpelling() {
        let input = Self.fields([("host", "billing.localhost"), ("Accept", "*/*"), ("HOST", "evil.example")])
        #expect(Self.pairs(IdentityHeaderFilter().filtered(input)) == ["Accept: */*"])
    }

    @Test func removesHopByHopHeadersAndThoseNamedInConnection() {
        let input = Self.fields([
            ("Connection", "keep-alive, X-Custom-Hop, x_other_hop"), ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "close"),
            ("TE", "trailers"), ("Transfer-Encoding", "chunked"), ("Upgrade", "websocket"), ("Proxy-Authorization", "Basic x"),
            ("Proxy-Authenticate", "Basic"), ("X-Custom-Hop", "1"), ("X-Other-Hop", "2"), ("Accept", "*/*"),
        ])
        #expect(Self.pairs(IdentityHeaderFilter().filtered(input)) == ["Accept: */*"])
    }

    @Test func connectionCannotRemoveContentLength() {
        let input = Self.fields([("Connection", "close, Content-Length"), ("Content-Length", "5")])
        #expect(Self.pairs(IdentityHeaderFilter().filtered(input)) == ["Content-Length: 5"])
    }

    @Test func keepsWebSocketUpgradeOnlyWhenAllowedAndRequested() {
        let upgrade = Self.fields([
            ("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "k"), ("Keep-Alive", "1"),
        ])
        #expect(
            Self.pairs(IdentityHeaderFilter(keepsUpgrade: true).filtered(upgrade)) == [
                "Connection: upgrade", "Upgrade: websocket", "Sec-WebSocket-Key: k",
            ])
        #expect(Self.pairs(IdentityHeaderFilter().filtered(upgrade)) == ["Sec-WebSocket-Key: k"])
        let upgradeWithoutConnection = Self.fields([("Upgrade", "websocket"), ("Connection", "close")])
        #expect(IdentityHeaderFilter(keepsUpgrade: true).filtered(upgradeWithoutConnection).isEmpty)
    }

    @Test(
        arguments: [
            ("a=1; __Host-portcullis=secret; b=2", "a=1; b=2"),
            ("__Host-portcullis=secret; a=1", "a=1"),
            ("a=1;b=2;__Host-portcullis=secret", "a=1;b=2"),
            ("a=\"q; x\";  __Host-portcullis=s;   c=3", "a=\"q; x\";   c=3"),
            ("a=1; __Host-portcullis=s; __Host-portcullis=t; b=2", "a=1; b=2"),
            ("__host-portcullis=other-case; a=1", "__host-portcullis=other-case; a=1"),
            ("__Host-portcullisx=1; x__Host-portcullis=2", "__Host-portcullisx=1; x__Host-portcullis=2"),
            ("a=1", "a=1"),
        ] as [(String, String)])
    func removesSessionCookieKeepingOthersByteForByte(cookie: String, expected: String) {
        let input = Self.fields([("Cookie", cookie), ("Accept", "*/*")])
        #expect(Self.pairs(IdentityHeaderFilter().filtered(input)) == ["Cookie: \(expected)", "Accept: */*"])
    }

    @Test func dropsCookieFieldsLeftEmpty() {
        // HTTP/2 sends one `cookie` field per cookie.
        let input = Self.fields([("cookie", "__Host-portcullis=s"), ("cookie", "a=1"), ("Cookie", " __Host-portcullis=t ; ")])
        #expect(Self.pairs(IdentityHeaderFilter.removingCookie(named: "__Host-portcullis", from: input)) == ["cookie: a=1"])
        #expect(Self.pairs(IdentityHeaderFilter(removedCookieName: "other").filtered(input)).count == 3)
    }
}
