import HTTPTypes
import Testing

@testable import Gateway
@testable import HTTPSyntax

/// The header part of §4.2, the malformed inputs of §4.3 and the smuggling shapes of §4.7:
/// refused before routing, so nothing downstream has to guess.
@Suite struct HeaderValidationTests {
    @Test(arguments: ["X_Forwarded_User", "X-Auth_Request_User", "x_goog_authenticated_user_email", "Remote_User"])
    func refusesUnderscoreNames(_ name: String) {
        #expect(rejection(request("/app", headers: [(name, "admin")])) == .underscoreInHeaderName(name))
    }

    @Test func refusesNonUTF8HeaderValue() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: HTTPField.Name("X-Note")!, value: [0x61, 0xFF, 0xFE, 0x62]))
        let request = HTTPRequest(method: .get, scheme: "https", authority: "app.corp.com", path: "/app", headerFields: fields)
        #expect(rejection(request) == .nonUTF8HeaderValue(name: "x-note"))
    }

    @Test func refusesWhatSwiftNIOLeavesOfNonUTF8() {
        // NIO's HTTP/1 decoder hands `\xff\xfe` over as two U+FFFD.
        #expect(rejection(request("/app", headers: [("X-Note", "a\u{FFFD}\u{FFFD}b")])) == .nonUTF8HeaderValue(name: "x-note"))
    }

    @Test func acceptsUTF8HeaderValue() throws {
        _ = try RequestCanonicalizer.canonicalize(request("/app", headers: [("X-Name", "Zoë Ångström")]))
    }

    @Test(arguments: [UInt8(0x01), 0x08, 0x0B, 0x1B, 0x7F])
    func refusesControlCharactersInHeaderValues(_ control: UInt8) {
        // `lenientValue` keeps controls other than CR, LF and NUL, as a lenient parser would.
        var fields = HTTPFields()
        fields.append(HTTPField(name: .userAgent, lenientValue: Array("curl".utf8) + [control] + Array("x".utf8)))
        let request = HTTPRequest(method: .get, scheme: "https", authority: "app.corp.com", path: "/app", headerFields: fields)
        #expect(rejection(request) == .controlCharacterInHeaderValue(name: "user-agent"))
    }

    @Test func httpTypesAlreadyNeutralizesCRLFAndNUL() throws {
        // HTTPField turns CR, LF and NUL into spaces before we see them, so a header value can
        // never split into two header lines upstream; tabs are legal.
        let canonical = try RequestCanonicalizer.canonicalize(request("/app", headers: [("X-Note", "a\r\nX-Injected: 1\0b\tc")]))
        let value = try #require(canonical.headerFields[HTTPField.Name("X-Note")!])
        #expect(value == "a  X-Injected: 1 b\tc")
    }

    struct Framing: Sendable, CustomTestStringConvertible {
        let headers: [(String, String)]
        let outcome: Result<BodyFraming, RequestRejection>
        var testDescription: String { headers.map { "\($0.0): \($0.1)" }.joined(separator: " | ") }
    }

    static let framings: [Framing] = [
        Framing(headers: [], outcome: .success(.unframed)),
        Framing(headers: [("Content-Length", "5")], outcome: .success(.contentLength(5))),
        Framing(headers: [("Content-Length", "0")], outcome: .success(.contentLength(0))),
        Framing(headers: [("Content-Length", "5"), ("Content-Length", "5")], outcome: .success(.contentLength(5))),
        Framing(headers: [("Transfer-Encoding", "chunked")], outcome: .success(.chunked)),
        Framing(headers: [("Transfer-Encoding", "Chunked")], outcome: .success(.chunked)),
        // CL.TE / TE.CL
        Framing(headers: [("Content-Length", "5"), ("Transfer-Encoding", "chunked")], outcome: .failure(.contentLengthWithTransferEncoding)),
        Framing(headers: [("Transfer-Encoding", "chunked"), ("Content-Length", "0")], outcome: .failure(.contentLengthWithTransferEncoding)),
        Framing(headers: [("Content-Length", "5"), ("Content-Length", "6")], outcome: .failure(.conflictingContentLength)),
        Framing(headers: [("Content-Length", "5, 6")], outcome: .failure(.invalidContentLength)),
        Framing(headers: [("Content-Length", "5, 5")], outcome: .failure(.invalidContentLength)),
        Framing(headers: [("Content-Length", "-1")], outcome: .failure(.invalidContentLength)),
        Framing(headers: [("Content-Length", "+5")], outcome: .failure(.invalidContentLength)),
        Framing(headers: [("Content-Length", "0x5")], outcome: .failure(.invalidContentLength)),
        Framing(headers: [("Content-Length", "")], outcome: .failure(.invalidContentLength)),
        Framing(headers: [("Content-Length", "99999999999999999999")], outcome: .failure(.invalidContentLength)),
        Framing(headers: [("Transfer-Encoding", "chunked, identity")], outcome: .failure(.unsupportedTransferEncoding("chunked, identity"))),
        Framing(headers: [("Transfer-Encoding", "identity")], outcome: .failure(.unsupportedTransferEncoding("identity"))),
        Framing(headers: [("Transfer-Encoding", "xchunked")], outcome: .failure(.unsupportedTransferEncoding("xchunked"))),
        Framing(
            headers: [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
            outcome: .failure(.unsupportedTransferEncoding("chunked, chunked"))),
        Framing(headers: [("Transfer-Encoding", "gzip, chunked")], outcome: .failure(.unsupportedTransferEncoding("gzip, chunked"))),
    ]

    @Test(arguments: framings)
    func checksBodyFraming(_ example: Framing) {
        let outcome = Result { () throws(RequestRejection) in
            try RequestCanonicalizer.canonicalize(request("/upload", method: .post, headers: example.headers)).bodyFraming
        }
        #expect(outcome == example.outcome)
    }

    @Test func repeatedApplicationHeadersPassUnchangedAndInOrder() throws {
        // §4.2 `X-Role: user` + `X-Role: admin`: the gateway never decides on X-Role, so there
        // is no PDP/backend disagreement to exploit; both values reach the upstream in order.
        let canonical = try RequestCanonicalizer.canonicalize(request("/app", headers: [("X-Role", "user"), ("X-Role", "admin")]))
        #expect(canonical.headerFields[values: HTTPField.Name("X-Role")!] == ["user", "admin"])
    }
}
