import HTTPTypes
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Testing

@testable import Gateway
@testable import HTTPSyntax

/// HTTP/1.1 targets that are not origin-form reach the canonicalizer whole, through the same
/// SwiftNIO conversion the gateway's pipeline uses.
@Suite struct HTTP1TargetTests {
    /// What the gateway's HTTP/1.1 pipeline hands the canonicalizer for a request line.
    func converted(_ target: String, method: HTTPMethod = .GET, host: String = "app.corp.com") throws -> HTTPRequest {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: HTTP1Target.carried(target), headers: ["Host": host])
        return try HTTPRequest(head, secure: false, splitCookie: false)
    }

    @Test func theConversionAloneLosesTheTargetsHost() throws {
        // Why `HTTP1Target` exists: without it, the other host is gone before anyone can check it.
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "https://other-route.proxy/admin", headers: ["Host": "app.corp.com"])
        #expect(try HTTPRequest(head, secure: false, splitCookie: false).path == "/admin")
    }

    @Test func originFormIsUntouched() throws {
        #expect(HTTP1Target.carried("/admin?x=1") == "/admin?x=1")
        #expect(try converted("/admin?x=1").path == "/admin?x=1")
    }

    @Test(arguments: [
        ("https://other-route.proxy/admin", RequestRejection.absoluteFormHostMismatch),
        ("http://app.corp.com:8443/admin", .absoluteFormHostMismatch),
        ("x:/admin", .unsupportedTargetForm),
        ("ftp://app.corp.com/admin", .unsupportedTargetForm),
        ("app.corp.com:443", .unsupportedTargetForm),
        ("*", .unsupportedTargetForm),
        ("http://app.corp.com/a#b", .fragmentInTarget),
    ])
    func otherFormsAreRefusedAsTheyWereSent(target: String, reason: RequestRejection) throws {
        #expect(rejection(try converted(target)) == reason)
    }

    @Test func asteriskFormKeepsItsOwnReason() throws {
        #expect(rejection(try converted("*", method: .OPTIONS)) == .asteriskFormNotRouted)
    }

    @Test func absoluteFormForTheRequestsHostIsItsOriginForm() throws {
        let canonical = try RequestCanonicalizer.canonicalize(try converted("HTTPS://App.Corp.Com./public/../admin?q=1"))
        #expect(canonical.host == "app.corp.com")
        #expect(canonical.path == "/admin")
        #expect(canonical.query == "q=1")
        let bare = try RequestCanonicalizer.canonicalize(try converted("http://app.corp.com"))
        #expect(bare.path == "/")
    }
}
