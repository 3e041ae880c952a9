import Foundation
import TestSupport
import Testing

/// CORS on a route that lists web origins, through a running gateway: curl sends what a browser
/// would (preflights, calls with `Origin`), and Chromium makes real cross-origin calls from a
/// listed and an unlisted origin (`Fixtures/cors_browser.py`).
@Suite(.serialized) struct CrossOriginEndToEndTests {
    static func routes(pageOrigin: String) -> String {
        """
            - id: api
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
              cors:
                origins: [https://dispatch.localhost, \(pageOrigin)]
                headers: [authorization, content-type]
            - id: plain
              hosts: [billing.localhost]
              path: /
              upstream: UPSTREAM
            - id: live
              hosts: [fleet.localhost]
              path: /live
              upstream: WSUPSTREAM
              websocket: true
              cors:
                origins: [https://dispatch.localhost]
        """
    }

    static let policies = [
        "api.cedar": """
        @id("dispatchers-call-the-api")
        permit (principal in Role::"dispatcher", action, resource);
        """
    ]

    @Test func preflightsAreAnsweredForListedOriginsAndAnswersMarkedForThemAlone() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes(pageOrigin: "http://app.localhost:8080")) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let before = gateway.upstreamRequests().count
            func preflight(
                _ origin: String, method: String = "GET", fields: String = "authorization", host: String = "shipments.localhost"
            ) throws
                -> GatewayFixture.Reply
            {
                try gateway.curl(
                    "/v1/shipments",
                    [
                        "-X", "OPTIONS", "-H", "origin: \(origin)", "-H", "access-control-request-method: \(method)", "-H",
                        "access-control-request-headers: \(fields)",
                    ], host: host)
            }
            let allowed = try preflight("https://dispatch.localhost")
            #expect(allowed.status == 204 && allowed.header("access-control-allow-origin") == "https://dispatch.localhost", "\(allowed.headers)")
            #expect(allowed.header("access-control-allow-credentials") == "true" && allowed.header("access-control-max-age") == "600")
            #expect(allowed.header("access-control-allow-methods") == "GET, HEAD, POST", "\(allowed.headers)")
            #expect(allowed.header("access-control-allow-headers") == "authorization, content-type" && allowed.header("x-request-id") != nil)
            for (origin, method, fields) in [
                ("https://evil.localhost", "GET", "authorization"), ("https://dispatch.localhost.evil.example", "GET", "authorization"),
                ("null", "GET", "authorization"), ("https://dispatch.localhost", "DELETE", "authorization"),
                ("https://dispatch.localhost", "GET", "x-debug"),
            ] {
                let refused = try preflight(origin, method: method, fields: fields)
                #expect(refused.status == 403 && refused.header("access-control-allow-origin") == nil, "\(origin) \(method) \(fields)")
            }
            #expect(gateway.upstreamRequests().count == before, "preflights were answered by the gateway, not forwarded")

            // Calls: a listed origin reads the answer, refusals included; the upstream's own wide-open
            // CORS fields never reach any origin.
            let bearer = ["-H", "authorization: Bearer \(token)"]
            let listed = try gateway.curl("/v1/shipments?acao=1", bearer + ["-H", "origin: https://dispatch.localhost"])
            #expect(
                listed.status == 200 && listed.headers.filter { $0.0 == "access-control-allow-origin" }.map(\.1) == ["https://dispatch.localhost"])
            #expect(listed.header("access-control-expose-headers") == "x-request-id" && listed.header("vary")?.contains("Origin") == true)
            let unlisted = try gateway.curl("/v1/shipments?acao=1", bearer + ["-H", "origin: https://evil.localhost"])
            #expect(unlisted.status == 200 && !unlisted.headers.contains { $0.0.hasPrefix("access-control-") }, "\(unlisted.headers)")
            let anonymous = try gateway.curl("/v1/shipments", ["-H", "origin: https://dispatch.localhost", "-H", "accept: application/json"])
            #expect(anonymous.status == 401 && anonymous.header("access-control-allow-origin") == "https://dispatch.localhost")

            // A route that lists no origin leaves CORS to its upstream: a preflight is a request like any other.
            let plain = try preflight("https://dispatch.localhost", host: "billing.localhost")
            #expect(plain.status == 401 && plain.header("access-control-allow-origin") == nil, "\(plain.status)")

            let audit = try await gateway.auditSearch(["--route", "api", "--limit", "50"]) { $0.contains("refused: the field x-debug") }
            #expect(audit.contains("CORS preflight from https://dispatch.localhost\\\""), "\(audit)")
            #expect(audit.contains("CORS preflight from https://evil.localhost refused: an origin the route does not list"), "\(audit)")
        }
    }

    /// Browsers apply no CORS to WebSockets and send the route host's cookies with a handshake
    /// from any page of the same site: only the route's own origin and the ones it lists may open one.
    @Test func webSocketsOpenOnlyFromTheRoutesOwnOrListedOrigins() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes(pageOrigin: "http://app.localhost:8080")) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            func open(from origin: String?) throws -> Int {
                let output = try GatewayOperationsTests.python(
                    "websocket_client.py",
                    (origin.map { ["--origin", $0] } ?? [])
                        + ["wss://fleet.localhost:\(gateway.gatewayPort)/live/updates", "\(gateway.certs)/ca-bundle.crt", token, "hello"])
                let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
                #expect(result["error"] == nil, "\(result)")
                return result["status"] as? Int ?? 0
            }
            #expect(try open(from: nil) == 101, "no page: a service or a command-line client")
            #expect(try open(from: "https://fleet.localhost:\(gateway.gatewayPort)") == 101, "the route's own origin")
            #expect(try open(from: "https://dispatch.localhost") == 101, "a listed origin")
            // (Every browser names its page: before, the handshake reached the upstream with two Origin fields and failed.)
            for origin in [
                "https://evil.localhost", "https://shipments.localhost:\(gateway.gatewayPort)", "null",
                "http://fleet.localhost:\(gateway.gatewayPort)",
            ] {
                #expect(try open(from: origin) == 403, "\(origin)")
            }
            let audit = try await gateway.auditSearch(["--route", "live", "--limit", "20"]) { $0.contains("WebSocket opened by a page on") }
            #expect(audit.contains("WebSocket opened by a page on https://evil.localhost, which the route does not list"), "\(audit)")
        }
    }

    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["CI"] != nil || ConsoleBrowserTests.browserAvailable,
            "needs chromium, chromium-driver and selenium (scripts/test installs them)"))
    func aBrowserCallsFromAListedOriginAndIsStoppedFromAnother() async throws {
        try #require(ConsoleBrowserTests.browserAvailable, "chromium, chromium-driver and selenium are required under CI")
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("cors-page-\(UUID().uuidString).port")
        let output = portFile.appendingPathExtension("out")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { for file in [portFile, output, portFile.appendingPathExtension("go")] { try? FileManager.default.removeItem(at: file) } }
        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: ConsoleBrowserTests.python)
        let certificate = FileManager.default.temporaryDirectory.appendingPathComponent("cors-gateway-\(UUID().uuidString).crt")
        defer { try? FileManager.default.removeItem(at: certificate) }
        browser.arguments = [
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/cors_browser.py").path,
            "--page-port-file", portFile.path, "--certificate", certificate.path, "--chromium", ConsoleBrowserTests.chromium,
            "--chromedriver", ConsoleBrowserTests.chromedriver,
        ]
        let handle = try FileHandle(forWritingTo: output)
        (browser.standardInput, browser.standardOutput, browser.standardError) = (FileHandle.nullDevice, handle, handle)
        try browser.run()
        try handle.close()
        defer { if browser.isRunning { kill(browser.processIdentifier, SIGKILL) } }
        var port = ""
        for _ in 0..<400 where port.isEmpty {
            port = (try? String(contentsOf: portFile, encoding: .utf8)) ?? ""
            if port.isEmpty { try await Task.sleep(for: .milliseconds(25)) }
        }
        try #require(!port.isEmpty, "the page server did not start")
        let pageOrigin = "http://app.localhost:\(port)"

        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes(pageOrigin: pageOrigin)) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            // The browser is to trust exactly this certificate: the fixture reads it with the go file.
            try FileManager.default.copyItem(atPath: "\(gateway.certs)/gateway.crt", toPath: certificate.path)
            let call = ["url": "https://shipments.localhost:\(gateway.gatewayPort)/v1/shipments", "token": token]
            try JSONSerialization.data(withJSONObject: call).write(to: portFile.appendingPathExtension("go"))
            let status = await Task.detached { ChildExit.waitBlocking(browser) }.value
            let said = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            #expect(status == 0, "\(said)")
            let line = try #require(said.split(separator: "\n").last { $0.hasPrefix("{") }, "\(said)")
            let results = try #require(try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: [String: Any]], "\(line)")
            #expect(results["listed"]?["ok"] as? Bool == true && results["listed"]?["status"] as? Int == 200, "\(results)")
            #expect((results["listed"]?["body"] as? String ?? "").contains("/v1/shipments"), "the page read the upstream's answer")
            #expect(results["other"]?["ok"] as? Bool == false, "the browser blocked the unlisted origin: \(results)")
            print(
                "Chromium: a call from \(pageOrigin) read \(results["listed"]?["status"] ?? "?"); from other.localhost: \(results["other"]?["error"] ?? "?")"
            )
        }
    }
}
