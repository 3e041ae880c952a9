import HTTPTypes
import Testing

@testable import Gateway
@testable import HTTPSyntax

/// §4.1 of the bypass-classes reference: the router, the policy engine and the upstream must
/// agree on the path. Each request is either refused or canonicalized to one stated path, and
/// that path is the one that picks the route, the one policies see and the one forwarded.
@Suite struct PathCanonicalizationTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        let target: String
        let path: String
        let query: String?
        let route: String
        let forwarded: String
        var testDescription: String { target }
    }

    static let accepted: [Accepted] = [
        // `curl --path-as-is`: the `..` is resolved before routing, so this is /admin.
        Accepted(target: "/public/../admin", path: "/admin", query: nil, route: "admin", forwarded: "/admin"),
        Accepted(target: "//admin", path: "/admin", query: nil, route: "admin", forwarded: "/admin"),
        Accepted(target: "/./admin", path: "/admin", query: nil, route: "admin", forwarded: "/admin"),
        Accepted(target: "/admin/", path: "/admin/", query: nil, route: "admin", forwarded: "/admin/"),
        Accepted(target: "///admin//x//", path: "/admin/x/", query: nil, route: "admin", forwarded: "/admin/x/"),
        // Case is preserved: /ADMIN is another path, handled (and authorized) as such.
        Accepted(target: "/ADMIN", path: "/ADMIN", query: nil, route: "catch-all", forwarded: "/ADMIN"),
        // `%23` decodes to a literal `#` inside the segment: not /admin, and forwarded re-encoded.
        Accepted(target: "/admin%23x", path: "/admin#x", query: nil, route: "catch-all", forwarded: "/admin%23x"),
        // The query is never matched against routes (oauth2-proxy GHSA-7rh7-c77v-6434).
        Accepted(
            target: "/admin?x=/public/health", path: "/admin", query: "x=/public/health", route: "admin",
            forwarded: "/admin?x=/public/health"
        ),
        Accepted(target: "/admin.json", path: "/admin.json", query: nil, route: "catch-all", forwarded: "/admin.json"),
        Accepted(target: "/admin%20", path: "/admin ", query: nil, route: "catch-all", forwarded: "/admin%20"),
        // Malcolm #1042: /x/../upload/ is /upload/.
        Accepted(target: "/x/../upload/", path: "/upload/", query: nil, route: "catch-all", forwarded: "/upload/"),
        Accepted(target: "/public/a/b/..", path: "/public/a/", query: nil, route: "public", forwarded: "/public/a/"),
        Accepted(target: "/public/.", path: "/public/", query: nil, route: "public", forwarded: "/public/"),
        Accepted(target: "/public/..", path: "/", query: nil, route: "catch-all", forwarded: "/"),
        // Unreserved escapes are decoded, and forwarded in their plain form.
        Accepted(target: "/%61dmin", path: "/admin", query: nil, route: "admin", forwarded: "/admin"),
        Accepted(target: "/public/caf%C3%A9", path: "/public/café", query: nil, route: "public", forwarded: "/public/caf%C3%A9"),
        Accepted(target: "/public/%25zz", path: "/public/%zz", query: nil, route: "public", forwarded: "/public/%25zz"),
        Accepted(target: "/public?", path: "/public", query: "", route: "public", forwarded: "/public?"),
        Accepted(target: "/public/a%3Fb?c=%2F", path: "/public/a?b", query: "c=%2F", route: "public", forwarded: "/public/a%3Fb?c=%2F"),
        // Absolute-form for the request's own host is the same as origin-form.
        Accepted(target: "http://app.corp.com/admin", path: "/admin", query: nil, route: "admin", forwarded: "/admin"),
        Accepted(target: "HTTPS://APP.corp.com.?q", path: "/", query: "q", route: "catch-all", forwarded: "/?q"),
    ]

    @Test(arguments: accepted)
    func canonicalizesToOnePath(_ example: Accepted) throws {
        let canonical = try RequestCanonicalizer.canonicalize(request(example.target))
        #expect(canonical.path == example.path)
        #expect(canonical.query == example.query)
        #expect(canonical.forwardedTarget == example.forwarded)
        #expect(referenceRoutes.match(canonical)?.id == example.route)
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        let target: String
        let reason: RequestRejection
        var testDescription: String { target }
    }

    static let refused: [Refused] = [
        Refused(target: "/public/%2e%2e/admin", reason: .encodedDot),
        Refused(target: "/public/%2E%2E/admin", reason: .encodedDot),
        // heimdall GHSA-3q34-rx83-r6mq
        Refused(target: "/user/%2e%2e/admin", reason: .encodedDot),
        Refused(target: "/public/%2e%2e%2fadmin", reason: .encodedDot),
        Refused(target: "/public/..%2fadmin", reason: .encodedSlash),
        Refused(target: "/public/..%2Fadmin", reason: .encodedSlash),
        Refused(target: "/public/..%5cadmin", reason: .encodedBackslash),
        Refused(target: "/public/..\\admin", reason: .backslashInPath),
        Refused(target: "/public/%252e%252e/admin", reason: .doubleEncodedPath),
        Refused(target: "/public/%252fadmin", reason: .doubleEncodedPath),
        // Path parameters, which servlet containers strip before routing (issue 18, item 6).
        Refused(target: "/public/..;/admin", reason: .pathParameter),
        Refused(target: "/public/.;x/admin", reason: .pathParameter),
        Refused(target: "/public/;x/admin", reason: .pathParameter),
        Refused(target: "/admin;jsessionid=x", reason: .pathParameter),
        Refused(target: "/public;x=/../admin", reason: .pathParameter),
        Refused(target: "/v1/admin;x/settings", reason: .pathParameter),
        Refused(target: "/v1/admin%3bx/settings", reason: .pathParameter),
        Refused(target: "/v1/admin%3B", reason: .pathParameter),
        // IAP's example.
        Refused(target: "/internal;some_param/admin", reason: .pathParameter),
        Refused(target: "/admin#x", reason: .fragmentInTarget),
        Refused(target: "/admin?x#y", reason: .fragmentInTarget),
        Refused(target: "/admin%00.css", reason: .encodedNUL),
        Refused(target: "/admin%0a", reason: .encodedControlCharacter),
        Refused(target: "/admin%0D%0AX-Injected:%201", reason: .encodedControlCharacter),
        Refused(target: "/admin%7f", reason: .encodedControlCharacter),
        Refused(target: "/%zz", reason: .invalidPercentEncoding),
        Refused(target: "/admin%", reason: .invalidPercentEncoding),
        Refused(target: "/admin%4", reason: .invalidPercentEncoding),
        Refused(target: "/admin%ff", reason: .invalidUTF8InPath),
        Refused(target: "/admin%C0%AF", reason: .invalidUTF8InPath),  // overlong '/'
        Refused(target: "/..", reason: .pathAboveRoot),
        Refused(target: "/public/../../admin", reason: .pathAboveRoot),
        // A tab in the request line, a space, raw UTF-8: must be percent-encoded.
        Refused(target: "/admin\tx", reason: .invalidCharacterInTarget(byte: 0x09)),
        Refused(target: "/admin x", reason: .invalidCharacterInTarget(byte: 0x20)),
        Refused(target: "/café", reason: .invalidCharacterInTarget(byte: 0xC3)),
        Refused(target: "admin", reason: .unsupportedTargetForm),
        Refused(target: "app.corp.com:443", reason: .unsupportedTargetForm),
        Refused(target: "ftp://app.corp.com/admin", reason: .unsupportedTargetForm),
        Refused(target: "http:/admin", reason: .unsupportedTargetForm),
        Refused(target: "*", reason: .unsupportedTargetForm),
        // Absolute-form naming another host than Host.
        Refused(target: "http://proxy/admin", reason: .absoluteFormHostMismatch),
        Refused(target: "http://app.corp.com:8443/admin", reason: .absoluteFormHostMismatch),
        Refused(target: "http://[::1/", reason: .invalidHost(reason: "IPv6 literal without ']'")),
        Refused(target: "http://user@app.corp.com/admin", reason: .invalidHost(reason: "character '@' is not allowed")),
    ]

    @Test(arguments: refused)
    func refusesAmbiguousTargets(_ example: Refused) {
        #expect(rejection(request(example.target)) == example.reason)
    }

    @Test func absoluteFormForAnotherRouteIsRefused() {
        // `GET http://proxy/admin` with `Host: other-route.proxy`, in both directions.
        #expect(rejection(request("http://app.corp.com/admin", authority: "other-route.proxy")) == .absoluteFormHostMismatch)
        #expect(rejection(request("http://other-route.proxy/", authority: "app.corp.com")) == .absoluteFormHostMismatch)
    }

    @Test func asteriskFormIsNeverRouted() {
        #expect(rejection(request("*", method: .options)) == .asteriskFormNotRouted)
    }

    @Test func missingTargetIsRefused() {
        #expect(rejection(HTTPRequest(method: .connect, scheme: nil, authority: "app.corp.com", path: nil)) == .missingTarget)
    }

    @Test func rejectionMessagesCannotInjectLogLines() {
        let message = RequestRejection.unsupportedTransferEncoding("chunked\r\n{\"decision\":\"allow\"}").description
        #expect(!message.contains("\r") && !message.contains("\n"))
        #expect(message.allSatisfy { $0.isASCII })
    }
}
