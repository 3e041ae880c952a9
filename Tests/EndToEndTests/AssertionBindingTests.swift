import Foundation
import TestSupport
import Testing

/// `assertion: per_session` (issue 25): one signed assertion per principal, session and route,
/// reused for half its lifetime, read by PyJWT as an upstream would; `per_request` (the default)
/// stays one assertion per request, bound to its method and path.
@Suite struct AssertionBindingTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
            - id: ops
              hosts: [ops.localhost]
              path: /
              upstream: UPSTREAM
              assertion: per_session
        """

    static let policies = [
        "schema.cedarschema": PolicyFixtures.schema,
        "routes.cedar": """
        @id("dispatchers-read")
        permit (principal in Role::"dispatcher", action == Action::"GET", resource)
        when { resource == Route::"shipments" || resource == Route::"ops" };
        """,
    ]

    @Test func aSessionAssertionIsReusedOnlyForTheSamePrincipalSessionAndRoles() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let danaPassword = try await gateway.createUser("dana", roles: ["dispatcher"])
            let dana = try gateway.accessToken("dana", danaPassword)
            let omar = try gateway.accessToken("omar", try await gateway.createUser("omar", roles: ["dispatcher"]))
            func assertion(_ token: String, _ path: String, host: String) throws -> String {
                let reply = try gateway.curl(path, ["-H", "authorization: Bearer \(token)"], host: host)
                #expect(reply.status == 200, "\(reply.body)")
                let headers = try #require(gateway.upstreamRequests().last?["headers"] as? [[String]])
                return try #require(headers.first { $0.first == "x-portcullis-assertion" }?.last)
            }

            // per_session: the same assertion for dana's next requests, whatever the path.
            let first = try assertion(dana, "/v1/reports/daily", host: "ops.localhost")
            #expect(try assertion(dana, "/v1/reports/weekly", host: "ops.localhost") == first)
            let claims = try gateway.pyjwtClaims(first, audience: "ops")
            #expect(claims["sub"] as? String == "dana" && claims["roles"] as? [String] == ["dispatcher"], "\(claims)")
            #expect(claims["method"] == nil && claims["path"] == nil, "a reused assertion names no request: \(claims)")
            // Another principal, another session of the same person, or changed roles: another assertion.
            #expect(try assertion(omar, "/v1/reports/daily", host: "ops.localhost") != first)
            let danaAgain = try gateway.accessToken("dana", danaPassword)
            #expect(try assertion(danaAgain, "/v1/reports/daily", host: "ops.localhost") != first)
            _ = try await gateway.cli(["role", "add", "auditor"])
            _ = try await gateway.cli(["role", "grant", "auditor", "--user", "dana"])
            var regranted = first
            for _ in 0..<50 where regranted == first {
                regranted = try assertion(dana, "/v1/reports/daily", host: "ops.localhost")
                if regranted == first { try await Task.sleep(for: .milliseconds(100)) }
            }
            let roles = try gateway.pyjwtClaims(regranted, audience: "ops")["roles"] as? [String]
            #expect(Set(roles ?? []) == ["dispatcher", "auditor"], "the new role is in a new assertion: \(roles ?? [])")

            // per_request (the default): a new assertion for every request, bound to it.
            let one = try assertion(dana, "/v1/shipments", host: "shipments.localhost")
            let two = try assertion(dana, "/v1/shipments", host: "shipments.localhost")
            #expect(one != two)
            let bound = try gateway.pyjwtClaims(two, audience: "shipments")
            #expect(bound["method"] as? String == "GET" && bound["path"] as? String == "/v1/shipments", "\(bound)")
        }
    }
}
