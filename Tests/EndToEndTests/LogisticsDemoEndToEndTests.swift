import Foundation
import TestSupport
import Testing

/// The `logistics-demo` upstreams behind the real gateway: allowed requests arrive with an
/// assertion the services verify against the identity service's JWKS, and the same services
/// refuse anything that did not come through the gateway for exactly that request.
@Suite(.serialized) struct LogisticsDemoEndToEndTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              upstream: LOGISTICS_SHIPMENTS
            - id: mirror
              hosts: [shipments.localhost]
              path: /mirror
              upstream: UPSTREAM
            - id: billing
              hosts: [billing.localhost]
              upstream: LOGISTICS_BILLING
              auth: [mtls]
            - id: ops-console
              hosts: [localhost]
              upstream: LOGISTICS_OPS_CONSOLE
        """

    static let policies = [
        "logistics.cedar": """
        @id("dispatchers-use-shipments")
        permit (principal in Role::"dispatcher", action, resource == Route::"shipments");
        @id("dispatchers-see-the-console")
        permit (principal in Role::"dispatcher", action == Action::"GET", resource == Route::"ops-console");
        @id("dispatchers-read-the-mirror")
        permit (principal in Role::"dispatcher", action == Action::"GET", resource == Route::"mirror");
        @id("billing-service-uses-billing")
        permit (principal == Service::"billing", action, resource == Route::"billing") when { context.cert.present };
        """
    ]

    @Test func upstreamsTrustTheGatewaysAssertionAndNothingElse() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let dana = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let bearer = ["-H", "authorization: Bearer \(dana)"]

            let list = try gateway.curl("/v1/shipments?status=planned", bearer)
            #expect(list.status == 200, "\(list.body)")
            let caller = try #require(list.json["caller"] as? [String: Any])
            #expect(caller["sub"] as? String == "dana")
            #expect(caller["roles"] as? [String] == ["dispatcher"])
            #expect(caller["amr"] as? [String] == ["token"])
            #expect(caller["request_id"] as? String == list.header("x-request-id"))
            #expect((list.json["shipments"] as? [[String: Any]])?.allSatisfy { $0["status"] as? String == "planned" } == true)

            let created = try gateway.curl(
                "/v1/shipments",
                bearer + [
                    "-H", "content-type: application/json", "-d",
                    #"{"customer":"Alpenglas AG","origin":"Milan, IT","destination":"Zurich, CH","weight_kg":5200}"#,
                ])
            #expect(created.status == 201, "\(created.body)")
            let stamp = try #require(created.json["created"] as? [String: Any])
            #expect(stamp["by"] as? String == "dana")
            #expect(stamp["request_id"] as? String == created.header("x-request-id"))
            let id = try #require(created.json["id"] as? String)
            let patched = try gateway.curl(
                "/v1/shipments/\(id)",
                bearer + [
                    "-X", "PATCH", "-H", "content-type: application/json",
                    "-d", #"{"status":"in_transit"}"#,
                ])
            #expect(patched.json["status"] as? String == "in_transit")

            let console = try gateway.curl("/", bearer, host: "localhost")
            #expect(console.status == 200)
            #expect(console.body.contains("<code>dana</code>"))
            #expect(console.header("content-security-policy")?.hasPrefix("default-src 'none'") == true)

            // The billing service, by its client certificate.
            _ = try await gateway.cli(["service", "add", "billing", "--spiffe-id", "spiffe://\(GatewayFixture.trustDomain)/billing"])
            let invoices = try gateway.curl(
                "/v1/invoices", ["--cert", "\(gateway.certs)/billing.crt", "--key", "\(gateway.certs)/billing.key"],
                host: "billing.localhost")
            #expect(invoices.status == 200, "\(invoices.body)")
            #expect((invoices.json["caller"] as? [String: Any])?["sub"] as? String == "billing")
            #expect((invoices.json["caller"] as? [String: Any])?["kind"] as? String == "service")
            #expect((invoices.json["caller"] as? [String: Any])?["amr"] as? [String] == ["mtls"])

            // Straight to the services, past the gateway: refused.
            let shipmentsPort = try #require(gateway.demoPorts["shipments"])
            let direct = try GatewayFixture.curl(["http://127.0.0.1:\(shipmentsPort)/v1/shipments"])
            #expect(direct.status == 401)
            #expect(direct.json["error"] as? String == "missing_assertion")
            let spoofed = try GatewayFixture.curl([
                "-H", "x-portcullis-assertion: eyJhbGciOiJub25lIn0.e30.",
                "http://127.0.0.1:\(shipmentsPort)/v1/shipments",
            ])
            #expect(spoofed.status == 401)

            // A genuine assertion, captured by another upstream (the echo service behind the mirror
            // route), replayed directly: it names another route, and another request.
            #expect(try gateway.curl("/mirror", bearer).status == 200)
            let headers = try #require(gateway.upstreamRequests().last?["headers"] as? [[String]])
            let captured = try #require(headers.first { $0.first == "x-portcullis-assertion" }?.last)
            let replay = try GatewayFixture.curl(["-H", "x-portcullis-assertion: \(captured)", "http://127.0.0.1:\(shipmentsPort)/mirror"])
            #expect(replay.status == 401)
            #expect(replay.json["error"] as? String == "invalid_assertion")
            #expect((replay.json["message"] as? String)?.contains("audience") == true)
        }
    }
}
