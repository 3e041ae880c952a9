import Foundation
import TestSupport
import Testing

/// The gateway over real TLS on loopback, with curl and openssl as clients, `portcullis serve`
/// as the server and a plain echo service as the upstream.
@Suite(.serialized) struct GatewayEndToEndTests {
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
              require_client_certificate: true
              auth: [mtls]
        """

    static let policies = [
        "logistics.cedar": """
        @id("dispatchers-read-shipments")
        permit (principal in Role::"dispatcher", action in Action::"read", resource == Route::"shipments");
        @id("anyone-reads-health")
        permit (principal, action == Action::"GET", resource == Route::"shipments-health");
        @id("billing-service-uses-billing")
        permit (principal == Service::"billing", action, resource == Route::"billing");
        @id("nobody-on-admin-paths")
        forbid (principal, action, resource == Route::"shipments") when { context.http.path like "/admin*" };
        """
    ]

    @Test func bearerTokensAreAllowedAndDeniedByPolicyAndEveryDecisionIsAudited() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let dispatcher = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let driver = try gateway.accessToken("drew", try await gateway.createUser("drew", roles: ["driver"]))

            let allowed = try gateway.curl("/v1/shipments?page=2", ["-H", "authorization: Bearer \(dispatcher)"])
            #expect(allowed.status == 200)
            #expect(allowed.json["target"] as? String == "/v1/shipments?page=2")
            let requestID = try #require(allowed.header("x-request-id"))
            #expect(allowed.header("x-upstream-secret") == nil, "a header the upstream's Connection named must not be forwarded")

            #expect(try gateway.curl("/v1/shipments", ["-X", "POST", "-H", "authorization: Bearer \(dispatcher)", "-d", "{}"]).status == 403)
            #expect(try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer \(driver)"]).status == 403)
            #expect(try gateway.curl("/admin/users", ["-H", "authorization: Bearer \(dispatcher)"]).status == 403)
            #expect(try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer v4.public.forged"]).status == 401)

            let anonymous = try gateway.curl("/v1/shipments")
            #expect(anonymous.status == 401)
            let signOn = "https://auth.localhost:\(gateway.gatewayPort)/.portcullis/sso?host=shipments.localhost&next=%2Fv1%2Fshipments"
            #expect(anonymous.json["login_url"] as? String == signOn)
            let browser = try gateway.curl("/v1/shipments", ["-H", "accept: text/html"])
            #expect(browser.status == 302)
            #expect(browser.header("location") == signOn)
            let spa = try gateway.curl("/v1/shipments", ["-H", "accept: text/html", "-H", "sec-fetch-mode: cors"])
            #expect(spa.status == 401)
            #expect(try gateway.curl("/health").status == 200)

            // Only the two allowed requests (the dispatcher's and the public health check) reached the upstream.
            #expect(gateway.upstreamRequests().count == 2)

            // The audit writer works off the request path: poll until the records are stored.
            var audit = ""
            var denials = ""
            for _ in 0..<100 {
                audit = try await gateway.cli(["audit", "search", "--request-id", requestID])
                denials = try await gateway.cli(["audit", "search", "--decision", "deny", "--route", "shipments"])
                if !audit.isEmpty && denials.split(separator: "\n").count >= 4 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(audit.contains(#""principal":"User::\"dana\"""#))
            #expect(audit.contains(#""outcome":"allow""#))
            #expect(audit.contains(#""policies":["dispatchers-read-shipments"]"#))
            #expect(denials.split(separator: "\n").count >= 4)
        }
    }

    /// The upstream trusts the gateway through the signed assertion, checked here with PyJWT (a
    /// client nobody here wrote) against the identity service's published JWKS.
    @Test func theIdentityAssertionVerifiesWithPyJWTAndSpoofedHeadersNeverArrive() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let spoofed = [
                "X-Forwarded-User: admin", "X_Forwarded_User: admin", "X-Auth-Request-Email: ceo@corp", "Remote-User: admin",
                "X-Pomerium-Claim-Email: ceo@corp", "x-goog-authenticated-user-email: accounts.google.com:ceo@corp",
                "X-Forwarded-Uri: /public/health", "X-Original-URL: /public", "X-Rewrite-URL: /public",
                "X-Envoy-Original-Path: /public", "X-Forwarded-Host: public.corp", "X-Forwarded-Proto: http",
                "X-Portcullis-Assertion: forged", "X-Real-IP: 10.9.9.9", "Forwarded: for=10.9.9.9",
                "Cookie: theme=dark; __Host-portcullis=stolen",
            ]
            let reply = try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer \(token)"] + spoofed.flatMap { ["-H", $0] })
            // `X_Forwarded_User` (an underscore in a header name) is refused outright.
            #expect(reply.status == 400)
            let accepted = try gateway.curl(
                "/v1/shipments",
                ["-H", "authorization: Bearer \(token)"]
                    + spoofed.filter { !$0.contains("_Forwarded") }.flatMap { ["-H", $0] })
            #expect(accepted.status == 200)
            let received = try #require(gateway.upstreamRequests().last)
            let headers = (received["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
            let names = Set(headers.map(\.0))
            for forbidden in [
                "x-forwarded-user", "x-auth-request-email", "remote-user", "x-pomerium-claim-email",
                "x-goog-authenticated-user-email", "x-forwarded-uri", "x-original-url", "x-rewrite-url",
                "x-envoy-original-path", "x-real-ip", "forwarded", "authorization",
            ] {
                #expect(!names.contains(forbidden), "\(forbidden) reached the upstream")
            }
            #expect(headers.first { $0.0 == "x-forwarded-host" }?.1 == "shipments.localhost")
            #expect(headers.first { $0.0 == "x-forwarded-proto" }?.1 == "https")
            #expect(headers.first { $0.0 == "cookie" }?.1 == "theme=dark")
            let assertion = try #require(headers.first { $0.0 == "x-portcullis-assertion" }?.1)
            #expect(assertion != "forged")

            let claims = try gateway.pyjwtClaims(assertion, audience: "shipments")
            #expect(claims["sub"] as? String == "dana")
            #expect(claims["kind"] as? String == "user")
            #expect(claims["roles"] as? [String] == ["dispatcher"])
            #expect(claims["method"] as? String == "GET")
            #expect(claims["path"] as? String == "/v1/shipments")
            #expect(claims["jti"] as? String == accepted.header("x-request-id"))
        }
    }

    /// Every path trick from the bypass-classes reference is refused, or decided on the same
    /// canonical path that is forwarded: none reaches the upstream as an admin path.
    @Test func pathTricksAreRefusedOrDecidedOnTheForwardedPath() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let auth = ["--path-as-is", "-H", "authorization: Bearer \(token)"]
            let refused = [
                "/health/%2e%2e/admin", "/health/%2e%2e%2fadmin", "/health/..%5cadmin", "/admin%00.css", "/%zz",
                "/health/%252e%252e/admin", "/health/..;/admin", "/admin;jsessionid=x", "/v1/admin%3Bx/settings",
            ]
            for path in refused {
                let reply = try gateway.curl(path, auth)
                #expect(reply.status == 400, "\(path) → \(reply.status) \(reply.body)")
            }
            // Normalized, then denied by the forbid on /admin*: decided on the canonical path.
            for path in ["/health/../admin", "//admin", "/./admin", "/admin/", "/admin?x=/health"] {
                let reply = try gateway.curl(path, auth)
                #expect(reply.status == 403, "\(path) → \(reply.status) \(reply.body)")
            }
            #expect(gateway.upstreamRequests().allSatisfy { !(($0["target"] as? String) ?? "").contains("admin") })
            // Host confusion: the route is chosen from the canonical Host; a trailing dot and case are normalized.
            let dotted = try GatewayFixture.curl([
                "--cacert", "\(gateway.certs)/ca-bundle.crt", "--resolve",
                "shipments.localhost:\(gateway.gatewayPort):127.0.0.1", "-H", "Host: SHIPMENTS.localhost.",
                "-H", "authorization: Bearer \(token)", "https://shipments.localhost:\(gateway.gatewayPort)/v1/x",
            ])
            #expect(dotted.status == 200)
        }
    }

    /// The shipped rule that keeps admin paths for security administrators, through the gateway:
    /// every spelling an upstream may treat as an admin path is refused (issue 18, item 6). `;`
    /// is refused with 400 before policy; case is matched on `context.http.lowercased_path`.
    @Test func theShippedAdminRuleCoversEverySpellingOfAnAdminPath() async throws {
        let policies = [
            "logistics.cedar": ConsoleSession.repositoryFile("policies/logistics.cedar"),
            "schema.cedarschema": PolicyFixtures.schema,
        ]
        try await GatewayFixture.run(policies: policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let auth = ["--path-as-is", "-H", "authorization: Bearer \(token)"]
            #expect(try gateway.curl("/v1/shipments/admiral", auth).status == 200)
            for path in ["/v1/admin", "/v1/admin/", "/v1/ADMIN/users", "/V1/Admin", "/Admin/export", "/v1/x/../admin"] {
                let reply = try gateway.curl(path, auth)
                #expect(reply.status == 403, "\(path) → \(reply.status) \(reply.body)")
            }
            for path in ["/v1/admin;x/settings", "/v1/admin%3Bx/settings", "/v1/admin%3b"] {
                let reply = try gateway.curl(path, auth)
                #expect(reply.status == 400, "\(path) → \(reply.status) \(reply.body)")
                #expect((reply.json["message"] as? String)?.contains("';'") == true, "\(reply.body)")
            }
            #expect(gateway.upstreamRequests().compactMap { $0["target"] as? String } == ["/v1/shipments/admiral"])
        }
    }

    /// mTLS: a route that requires a client certificate; the billing workload's certificate
    /// (bound to its service account) is accepted, one from another CA fails the handshake, and
    /// a token caller without a certificate is refused.
    @Test func clientCertificatesAreVerifiedAgainstTheInternalCA() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            _ = try await gateway.cli(["service", "add", "billing", "--spiffe-id", "spiffe://\(GatewayFixture.trustDomain)/billing"])
            let withCertificate = try gateway.curl(
                "/v1/invoices", ["--cert", "\(gateway.certs)/billing.crt", "--key", "\(gateway.certs)/billing.key"],
                host: "billing.localhost")
            #expect(withCertificate.status == 200, "\(withCertificate.body)")
            let withoutCertificate = try gateway.curl("/v1/invoices", host: "billing.localhost")
            #expect(withoutCertificate.status == 403)
            #expect(withoutCertificate.json["error"] as? String == "client_certificate_required")

            let foreignKey = gateway.directory.appendingPathComponent("foreign.key").path
            let foreignCert = gateway.directory.appendingPathComponent("foreign.crt").path
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", foreignKey,
                "-out", foreignCert, "-subj", "/CN=impostor", "-days", "1",
                "-addext", "subjectAltName=URI:spiffe://\(GatewayFixture.trustDomain)/billing",
            ]
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            ChildExit.waitBlocking(openssl)
            let impostor = try gateway.curl("/v1/invoices", ["--cert", foreignCert, "--key", foreignKey], host: "billing.localhost")
            #expect(impostor.status == 0, "a certificate from another CA must fail the handshake")
            #expect(gateway.upstreamRequests().count == 1)
        }
    }

    @Test func http2AndAnInvalidPolicyReloadThatKeepsTheOldSet() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let h2 = try GatewayFixture.curl([
                "--http2", "-w", "", "--cacert", "\(gateway.certs)/ca-bundle.crt", "--resolve",
                "shipments.localhost:\(gateway.gatewayPort):127.0.0.1", "-H", "authorization: Bearer \(token)",
                "https://shipments.localhost:\(gateway.gatewayPort)/v1/shipments",
            ])
            #expect(h2.status == 200)

            let policyFile = gateway.directory.appendingPathComponent("policies/logistics.cedar")
            try "permit (principal, action, resource) when { principal.".write(to: policyFile, atomically: true, encoding: .utf8)
            try await Task.sleep(for: .seconds(2.5))
            #expect(try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer \(token)"]).status == 200)
            #expect(gateway.serve.standardError.contains("policy reload refused"))

            try """
            @id("dispatchers-read-shipments")
            permit (principal in Role::"dispatcher", action in Action::"read", resource == Route::"shipments")
            when { context.http.path != "/v1/shipments" };
            """.write(to: policyFile, atomically: true, encoding: .utf8)
            var denied = false
            for _ in 0..<50 where !denied {
                try await Task.sleep(for: .milliseconds(100))
                denied = try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer \(token)"]).status == 403
            }
            #expect(denied, "the new policy set was not enforced within 5 s")
        }
    }
}
