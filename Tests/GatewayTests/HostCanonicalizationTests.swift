import HTTPTypes
import Testing

@testable import Gateway
@testable import HTTPSyntax

/// §4.8 (host forms) and the host part of §4.3: the route is chosen from one canonical host,
/// and a request naming two hosts is refused.
@Suite struct HostCanonicalizationTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        let authority: String
        let host: String
        let port: UInt16?
        var testDescription: String { authority }
    }

    static let accepted: [Accepted] = [
        Accepted(authority: "admin.corp.com", host: "admin.corp.com", port: nil),
        Accepted(authority: "admin.corp.com.", host: "admin.corp.com", port: nil),
        Accepted(authority: "ADMIN.corp.com", host: "admin.corp.com", port: nil),
        Accepted(authority: "admin.corp.com:443", host: "admin.corp.com", port: 443),
        Accepted(authority: "Admin.Corp.Com.:8443", host: "admin.corp.com", port: 8443),
        Accepted(authority: "xn--bcher-kva.corp.com", host: "xn--bcher-kva.corp.com", port: nil),
        Accepted(authority: "XN--BCHER-KVA.corp.com", host: "xn--bcher-kva.corp.com", port: nil),
        Accepted(authority: "127.0.0.1:8080", host: "127.0.0.1", port: 8080),
        Accepted(authority: "[::1]", host: "[::1]", port: nil),
        Accepted(authority: "[::1]:443", host: "[::1]", port: 443),
        Accepted(authority: "[2001:DB8::A]", host: "[2001:db8::a]", port: nil),
        Accepted(authority: "[::ffff:192.0.2.1]", host: "[::ffff:192.0.2.1]", port: nil),
        Accepted(authority: "[1:2:3:4:5:6:7:8]", host: "[1:2:3:4:5:6:7:8]", port: nil),
        Accepted(authority: "localhost:65535", host: "localhost", port: 65535),
    ]

    @Test(arguments: accepted)
    func canonicalizesHost(_ example: Accepted) throws {
        let canonical = try RequestCanonicalizer.canonicalize(request("/", authority: example.authority))
        #expect(canonical.host == example.host)
        #expect(canonical.port == example.port)
    }

    @Test(arguments: ["admin.corp.com.", "ADMIN.corp.com", "admin.corp.com:443", "Admin.Corp.Com.:8443"])
    func hostSpellingsReachTheSameRoute(_ authority: String) throws {
        let table = try RouteTable<String>([
            Route(id: "admin", hosts: [HostPattern("admin.corp.com")], pathPrefix: "/", payload: ""),
            Route(id: "public", hosts: [HostPattern("public.corp.com")], pathPrefix: "/", payload: ""),
        ])
        let canonical = try RequestCanonicalizer.canonicalize(request("/", authority: authority))
        #expect(table.match(canonical)?.id == "admin")
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        let authority: String
        let reason: RequestRejection
        var testDescription: String { authority }
    }

    static let refused: [Refused] = [
        Refused(authority: "", reason: .emptyHost),
        Refused(authority: ".", reason: .emptyHost),
        Refused(authority: ":443", reason: .emptyHost),
        Refused(authority: "admin.corp.com..", reason: .invalidHost(reason: "empty label")),
        Refused(authority: ".admin.corp.com", reason: .invalidHost(reason: "empty label")),
        Refused(authority: "admin..corp.com", reason: .invalidHost(reason: "empty label")),
        Refused(authority: "bücher.corp.com", reason: .nonASCIIHost),
        Refused(authority: "admin_x.corp.com", reason: .invalidHost(reason: "character '_' is not allowed")),
        Refused(authority: "user@admin.corp.com", reason: .invalidHost(reason: "character '@' is not allowed")),
        Refused(authority: "admin.corp.com/x", reason: .invalidHost(reason: "character '/' is not allowed")),
        Refused(authority: "*.corp.com", reason: .invalidHost(reason: "character '*' is not allowed")),
        Refused(authority: "admin.corp.com:", reason: .invalidPort),
        Refused(authority: "admin.corp.com:0", reason: .invalidPort),
        Refused(authority: "admin.corp.com:65536", reason: .invalidPort),
        Refused(authority: "admin.corp.com:000443", reason: .invalidPort),
        Refused(authority: "admin.corp.com:+443", reason: .invalidPort),
        Refused(authority: "admin.corp.com:443:443", reason: .invalidPort),
        Refused(authority: "[::1", reason: .invalidHost(reason: "IPv6 literal without ']'")),
        Refused(authority: "[::1]x", reason: .invalidHost(reason: "unexpected characters after the IPv6 literal")),
        Refused(authority: "[::1%25eth0]", reason: .invalidHost(reason: "not a valid IPv6 literal")),
        Refused(authority: "[1::2::3]", reason: .invalidHost(reason: "not a valid IPv6 literal")),
        Refused(authority: "[1:2:3:4:5:6:7:8:9]", reason: .invalidHost(reason: "not a valid IPv6 literal")),
        Refused(authority: "[12345::]", reason: .invalidHost(reason: "not a valid IPv6 literal")),
        Refused(authority: "[::256.0.0.1]", reason: .invalidHost(reason: "not a valid IPv6 literal")),
        Refused(authority: "[]", reason: .invalidHost(reason: "not a valid IPv6 literal")),
        Refused(authority: String(repeating: "a", count: 64) + ".corp.com", reason: .invalidHost(reason: "label longer than 63 bytes")),
    ]

    @Test(arguments: refused)
    func refusesInvalidHosts(_ example: Refused) {
        #expect(rejection(request("/", authority: example.authority)) == example.reason)
    }

    @Test func refusesMissingHost() {
        #expect(rejection(request("/", authority: nil)) == .missingHost)
    }

    @Test func refusesHostFieldBesideAuthority() {
        // HTTP/1: the first Host became the authority; a second one stays in the fields.
        #expect(rejection(request("/", authority: "app.corp.com", headers: [("Host", "admin.corp.com")])) == .duplicateHost)
        // Even when it agrees: RFC 9112 requires 400 for more than one Host line.
        #expect(rejection(request("/", authority: "app.corp.com", headers: [("host", "app.corp.com")])) == .duplicateHost)
    }

    @Test func usesLoneHostFieldWhenThereIsNoAuthority() throws {
        let canonical = try RequestCanonicalizer.canonicalize(request("/", authority: nil, headers: [("Host", "App.Corp.com.")]))
        #expect(canonical.host == "app.corp.com")
        #expect(rejection(request("/", authority: nil, headers: [("Host", "a.corp.com"), ("Host", "b.corp.com")])) == .duplicateHost)
    }
}
