import AccessModel
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import Gateway

/// The gateway owns its cookies (issue 20, item 5): an upstream's `Set-Cookie` for the session
/// cookie or one of its companions, in any case, never reaches the browser, and the record says so.
@Suite struct UpstreamCookieTests {
    @Test func theGatewaysCookieNamesAreRecognisedInAnyCase() {
        for name in ["__Host-portcullis", "__HOST-PORTCULLIS", "__host-portcullis-csrf", "__Host-portcullis-console-csrf"] {
            #expect(GatewayCookies.isGatewayCookie(Substring(name)), "\(name)")
        }
        for name in ["portcullis", "__Host-portcullisx", "__Secure-portcullis", "app", "__Host-portcullis_csrf"] {
            #expect(!GatewayCookies.isGatewayCookie(Substring(name)), "\(name)")
        }
    }

    @Test func anUpstreamCannotPlantTheSessionCookie() async throws {
        let headers = HTTPHeaders([
            ("Set-Cookie", "__Host-portcullis=planted; Path=/; Secure; HttpOnly"), ("Set-Cookie", "__HOST-Portcullis-csrf=x; Path=/"),
            ("Set-Cookie", "theme=dark; Path=/"),
        ])
        let upstream = try await ScriptedUpstream { _, _ in ScriptedUpstream.Reply(headers: headers) }
        let gateway = try GatewayUnderTest(routes: [
            RouteSettings(id: "planter", hosts: ["planter.test"], pathPrefix: "/", upstream: upstream.url)
        ])
        gateway.policiesInForce.replace(
            with: PolicySnapshot(authorizer: .init(try .parse("permit (principal, action, resource);").get()), version: "all"))
        let outcome = gateway.admit("/", host: "planter.test", headers: [(.authorization, "Bearer " + gateway.token())])
        let admitted = try #require(outcome.admitted)
        var record = outcome.record
        let head = HTTPRequest(method: .get, scheme: "https", authority: "planter.test", path: "/")
        let response = try await gateway.responder.forward(
            Request(head: head, body: RequestBody(buffer: ByteBuffer())), admitted,
            eventLoop: MultiThreadedEventLoopGroup.singleton.next(), clientChannel: nil, clientAddress: "127.0.0.1", tls: .unknown,
            record: &record)
        #expect(response.headers[values: .setCookie] == ["theme=dark; Path=/"])
        #expect(record.reason == "the upstream's Set-Cookie for __Host-portcullis, __HOST-Portcullis-csrf was removed")
        try await upstream.stop()
    }
}
