import Testing

@testable import Gateway
@testable import HTTPSyntax

/// §4.4: the login flow's `next` target must stay on the same host.
@Suite struct RedirectTargetTests {
    static let openRedirects = [
        // The reference file's `rd=` values.
        "/\\evil.com", "/%09/evil.com", "/\t\\\\evil.com", "/\\t\\\\evil.com", "/\r/evil.com", "/./\\evil.com", "//evil.com",
        "https://corp.com.evil.com", "https://evilcorp.com", "https://evil.com?rd=corp.com", "https://corp.com:8443",
        "https:evil.com", "java&#x09;script:",
        // oauth2-proxy CVE-2020-5233 / CVE-2020-11053 shapes: whitespace between the slashes,
        // raw and encoded, single and double.
        "/ /evil.com", "/ \\evil.com", "/\t/evil.com", "/\u{0B}/evil.com", "/\u{0B}\\evil.com", "/\n/evil.com",
        "/\n\\evil.com", "/\r\\evil.com", "/\t/\t\\evil.com", "/\t\t/\t/evil.com", "/\t\t\\\t/evil.com",
        "/%0a/evil.com", "/%0A/evil.com", "/%0b/evil.com", "/%0d/evil.com", "/%20/evil.com", "/%09%09/%09/evil.com",
        "/./../../\\evil.com", "/../evil.com", "/.//evil.com", "/x/..//evil.com",
        // Encoded separators that a decoding layer would turn into `//` or `\`.
        "/%2f/evil.com", "/%2F%2Fevil.com", "/%5cevil.com", "/%5Cevil.com", "/%2f%5c%2fevil.com", "//%09/evil.com",
        "///evil.com", "////evil.com/", "/\\/\\/evil.com/", "\\\\evil.com", "\\/evil.com",
        "/evil.com/%2f%2e%2e", "/x/%2e%2e/%2e%2e//evil.com", "/https://evil.com", "/http://evil.com",
        "/x:1/:///%01javascript:alert(1)/", "/<>//evil.com",
        // Not a path at all.
        "", "evil.com", "@evil.com", "javascript:alert(1)", "data:text/html,x", "%2f%2fevil.com", " /app", "/app ",
        // Invalid escapes, control characters, non-ASCII.
        "/app%", "/app%zz", "/app%00", "/app\u{7F}", "/café",
        String(repeating: "/a", count: 1025),
    ]

    @Test(arguments: openRedirects)
    func refusesOpenRedirect(_ target: String) {
        #expect(RedirectTarget.validate(target) == nil)
    }

    static let localPaths = [
        "/", "/app", "/app/", "/app/page?x=1&y=//z", "/app?next=https://evil.com", "/app#section", "/app/caf%C3%A9",
        "/a-b_c.d~e/f;g=h", "/.well-known/x", "/app/..x", "/%41pp",
    ]

    @Test(arguments: localPaths)
    func acceptsLocalPath(_ target: String) {
        #expect(RedirectTarget.validate(target) == target)
    }
}
