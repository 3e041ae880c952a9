import HTTPTypes
import Hummingbird
import Testing

@testable import Gateway

/// CORS on a route that lists origins (the Fetch standard's CORS protocol): which origins a
/// configuration accepts, the preflights the gateway answers, and the fields of every answer.
/// `CrossOriginEndToEndTests` drives the same through a running gateway with curl and Chromium.
@Suite struct CrossOriginTests {
    static let policy = CrossOriginPolicy(origins: ["https://dispatch.localhost", "http://127.0.0.1:8080"])

    @Test func originsAreWrittenAsBrowsersSendThem() throws {
        #expect(try CrossOriginPolicy.origin("https://Dispatch.Example") == "https://dispatch.example")
        #expect(try CrossOriginPolicy.origin("https://dispatch.example:443") == "https://dispatch.example")
        #expect(try CrossOriginPolicy.origin("http://dispatch.example:80") == "http://dispatch.example")
        #expect(try CrossOriginPolicy.origin("https://dispatch.example:8443") == "https://dispatch.example:8443")
        for bad in [
            "null", "*", "https://*.example", "https://dispatch.example/", "https://dispatch.example/app", "dispatch.example",
            "ftp://dispatch.example", "https://user@dispatch.example", "https://dispatch.example?x", "https://dispatch.example#x", "",
        ] {
            #expect(throws: CrossOriginPolicy.InvalidOrigin.self, "\(bad)") { try CrossOriginPolicy.origin(bad) }
        }
    }

    @Test func onlyAListedOriginsPreflightForAllowedMethodsAndFieldsIsAnswered() {
        let asked: HTTPFields = [.accessControlRequestMethod: "POST", .accessControlRequestHeaders: "Authorization, content-type"]
        let (allowed, none) = CrossOrigin(policy: Self.policy, origin: "https://dispatch.localhost").preflight(asked)
        #expect(none == nil && allowed.status == .noContent)
        #expect(allowed.headers[.accessControlAllowOrigin] == "https://dispatch.localhost")
        #expect(allowed.headers[.accessControlAllowCredentials] == "true")
        #expect(allowed.headers[.accessControlAllowMethods] == "GET, HEAD, POST")
        #expect(allowed.headers[.accessControlAllowHeaders] == "authorization, content-type")
        #expect(allowed.headers[.accessControlMaxAge] == "600" && allowed.headers[.vary] == "Origin")

        for (origin, fields, reason) in [
            ("https://evil.localhost", asked, "an origin the route does not list"),
            ("https://dispatch.localhost.evil.example", asked, "an origin the route does not list"),
            ("null", asked, "an origin the route does not list"),
            ("http://dispatch.localhost", asked, "an origin the route does not list"),
            ("https://dispatch.localhost", [.accessControlRequestMethod: "DELETE"], "the method DELETE is not allowed from other origins"),
            (
                "https://dispatch.localhost", [.accessControlRequestMethod: "GET", .accessControlRequestHeaders: "content-type, x-debug"],
                "the field x-debug is not allowed from other origins"
            ),
        ] as [(String, HTTPFields, String)] {
            let (refused, refusal) = CrossOrigin(policy: Self.policy, origin: origin).preflight(fields)
            #expect(refused.status == .forbidden && refusal == reason, "\(origin)")
            #expect(!refused.headers.contains { $0.name.canonicalName.hasPrefix("access-control-") }, "\(origin)")
        }
    }

    @Test func answersCarryTheRoutesCORSFieldsAndNeverTheUpstreams() {
        let upstream = Response(
            status: .ok,
            headers: [
                .accessControlAllowOrigin: "*", .accessControlAllowCredentials: "true", .accessControlExposeHeaders: "x-secret",
                .vary: "Accept-Encoding", .contentType: "application/json",
            ])
        let listed = CrossOrigin(policy: Self.policy, origin: "http://127.0.0.1:8080").marked(upstream)
        #expect(listed.headers[values: .accessControlAllowOrigin] == ["http://127.0.0.1:8080"])
        #expect(listed.headers[values: .accessControlExposeHeaders] == ["x-request-id"])
        #expect(listed.headers[.vary] == "Accept-Encoding, Origin" && listed.headers[.contentType] == "application/json")

        let other = CrossOrigin(policy: Self.policy, origin: "https://evil.localhost").marked(upstream)
        #expect(!other.headers.contains { $0.name.canonicalName.hasPrefix("access-control-") }, "\(other.headers)")
        #expect(other.headers[.vary] == "Accept-Encoding, Origin")
    }
}
