import Foundation
import TestSupport
import Testing

/// Requests that must not reach policy as someone they are not (issue 18, items 4 and 8): an
/// anonymous caller on a route that is not public, and a session cookie that does not hold,
/// which once fell back to the connection's certificate or to `Anonymous`.
@Suite(.serialized) struct AuthenticationRefusalTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
            - id: shipments-health
              hosts: [shipments.localhost]
              path: /health
              upstream: UPSTREAM
              public: true
            - id: billing
              hosts: [billing.localhost]
              path: /
              upstream: UPSTREAM
        """

    /// A policy with an unscoped principal admits `Anonymous` only where the route says
    /// `public: true`; elsewhere the caller is asked to sign in, and the refusal is audited.
    @Test func anonymousCallersAreRefusedOnRoutesThatAreNotPublic() async throws {
        let policies = ["open.cedar": #"@id("everyone-everywhere") permit (principal, action, resource);"#]
        try await GatewayFixture.run(policies: policies, routes: Self.routes) { gateway in
            let anonymous = try gateway.curl("/v1/shipments")
            #expect(anonymous.status == 401, "\(anonymous.body)")
            let signOn = "https://auth.localhost:\(gateway.gatewayPort)/.portcullis/sso?host=shipments.localhost&next=%2Fv1%2Fshipments"
            #expect(anonymous.json["login_url"] as? String == signOn)
            let browser = try gateway.curl("/v1/shipments", ["-H", "accept: text/html"])
            #expect(browser.status == 302)
            #expect(browser.header("location") == signOn)
            #expect(try gateway.curl("/v1/shipments", ["-X", "POST", "-d", "{}"]).status == 401)

            #expect(try gateway.curl("/health").status == 200, "a public route still admits anonymous callers")
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            #expect(try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer \(token)"]).status == 200)
            #expect(gateway.upstreamRequests().compactMap { $0["target"] as? String } == ["/health", "/v1/shipments"])

            let requestID = try #require(anonymous.json["request_id"] as? String)
            let record = try await Self.auditRecord(requestID, in: gateway)
            #expect(record.contains(#""outcome":"deny""#), "\(record)")
            #expect(record.contains(#""principal":"Anonymous::\"anonymous\"""#), "\(record)")
            #expect(record.contains("this route is not public and the request carries no credentials"), "\(record)")
        }
    }

    /// A forged, duplicated, ended or expired session cookie is answered like a missing login,
    /// with the cookie cleared, even where anonymous callers or the connection's certificate
    /// would be admitted.
    @Test func aSessionCookieThatDoesNotHoldIsRefusedAndCleared() async throws {
        let policies = [
            "logistics.cedar": """
            @id("dispatchers-read-shipments")
            permit (principal in Role::"dispatcher", action in Action::"read", resource == Route::"shipments");
            @id("anyone-reads-health")
            permit (principal, action == Action::"GET", resource == Route::"shipments-health");
            @id("billing-service-uses-billing")
            permit (principal == Service::"billing", action, resource == Route::"billing");
            """
        ]
        try await GatewayFixture.run(policies: policies, routes: Self.routes, gatewayLines: ["session_idle_timeout: 3s"]) { gateway in
            _ = try await gateway.cli(["service", "add", "billing", "--spiffe-id", "spiffe://\(GatewayFixture.trustDomain)/billing"])
            let billing = ["--cert", "\(gateway.certs)/billing.crt", "--key", "\(gateway.certs)/billing.key"]
            #expect(try gateway.curl("/v1/invoices", billing, host: "billing.localhost").status == 200)
            #expect(try gateway.curl("/health").status == 200)

            let forged = ["-H", "cookie: __Host-portcullis=v4.local.forged"]
            // Once answered as Anonymous (200 on a public route) and as Service::"billing".
            let onPublicRoute = try gateway.curl("/health", forged)
            Self.expectRefusedAndCleared(onPublicRoute)
            let signOn = "https://auth.localhost:\(gateway.gatewayPort)/.portcullis/sso?host=shipments.localhost&next="
            #expect(onPublicRoute.json["login_url"] as? String == signOn + "%2Fhealth")
            Self.expectRefusedAndCleared(try gateway.curl("/v1/invoices", forged + billing, host: "billing.localhost"))
            let navigation = try gateway.curl("/v1/shipments?page=2", forged + ["-H", "accept: text/html"])
            #expect(navigation.status == 302)
            #expect(navigation.header("location") == signOn + "%2Fv1%2Fshipments%3Fpage%3D2")
            #expect(navigation.headers.contains { $0.name == "set-cookie" && Self.clears($0.value) })
            Self.expectRefusedAndCleared(try gateway.curl("/health", ["-H", "cookie: __Host-portcullis=a; __Host-portcullis=b"]))
            #expect(gateway.upstreamRequests().count == 2, "a refused cookie reached the upstream")

            // A session ended by disabling its user.
            let ended = try gateway.signIn("dana", try await gateway.createUser("dana", roles: ["dispatcher"])).cookie
            #expect(try gateway.curl("/v1/shipments", ["-H", "cookie: __Host-portcullis=\(ended)"]).status == 200)
            _ = try await gateway.cli(["user", "disable", "dana"])
            var afterDisable = try gateway.curl("/health", ["-H", "cookie: __Host-portcullis=\(ended)"])
            for _ in 0..<50 where afterDisable.status == 200 {
                try await Task.sleep(for: .milliseconds(100))
                afterDisable = try gateway.curl("/health", ["-H", "cookie: __Host-portcullis=\(ended)"])
            }
            Self.expectRefusedAndCleared(afterDisable)

            // A session cookie past its idle window (3 s here).
            let expiring = try gateway.signIn("erin", try await gateway.createUser("erin", roles: ["dispatcher"])).cookie
            try await Task.sleep(for: .seconds(4))
            let delivered = gateway.upstreamRequests().count
            let expired = try gateway.curl("/health", ["-H", "cookie: __Host-portcullis=\(expiring)"])
            Self.expectRefusedAndCleared(expired)
            #expect(gateway.upstreamRequests().count == delivered)
            let record = try await Self.auditRecord(try #require(expired.json["request_id"] as? String), in: gateway)
            #expect(record.contains(#""outcome":"deny""#), "\(record)")
            #expect(record.contains("the session cookie is not valid: token has expired"), "\(record)")
        }
    }

    static func expectRefusedAndCleared(_ reply: GatewayFixture.Reply, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(reply.status == 401, "\(reply.body)", sourceLocation: sourceLocation)
        #expect(reply.json["error"] as? String == "unauthenticated", sourceLocation: sourceLocation)
        #expect(reply.headers.contains { $0.name == "set-cookie" && clears($0.value) }, "\(reply.headers)", sourceLocation: sourceLocation)
    }

    static func clears(_ setCookie: String) -> Bool {
        setCookie.hasPrefix("__Host-portcullis=;") && setCookie.contains("Max-Age=0")
    }

    /// The audit record of one request, once the writer has stored it.
    static func auditRecord(_ requestID: String, in gateway: GatewayFixture) async throws -> String {
        for _ in 0..<100 {
            let found = try await gateway.cli(["audit", "search", "--request-id", requestID])
            if !found.isEmpty { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
        return ""
    }
}
