import Foundation
import TestSupport
import Testing

/// The gateway as operators run it: metrics, the HTTP redirect listener, WebSocket routes,
/// connection limits against slow or flooding clients, reloads under load, and draining on
/// shutdown. Real TLS on loopback; clients are curl, openssl and Python's `websockets`.
@Suite(.serialized) struct GatewayOperationsTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
            - id: live
              hosts: [shipments.localhost]
              path: /live
              upstream: WSUPSTREAM
              websocket: true
            - id: billing
              hosts: [billing.localhost]
              path: /
              upstream: UPSTREAM
        """

    static let policies = [
        "logistics.cedar": """
        @id("dispatchers-use-shipments")
        permit (principal in Role::"dispatcher", action in Action::"read", resource)
        when { resource == Route::"shipments" || resource == Route::"live" };
        """
    ]

    @Test func metricsCountDecisionsAndThePlainListenerOnlyRedirects() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            for _ in 0..<3 { #expect(try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer \(token)"]).status == 200) }
            #expect(try gateway.curl("/v1/shipments", ["-X", "DELETE", "-H", "authorization: Bearer \(token)"]).status == 403)

            let metrics = try GatewayFixture.curl(["http://\(gateway.adminAddress)/metrics"])
            #expect(metrics.status == 200)
            #expect(metrics.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let lines = Set(metrics.body.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"portcullis_gateway_requests_total{route="shipments",outcome="allow"} 3"#), "\(metrics.body)")
            #expect(lines.contains(#"portcullis_gateway_requests_total{route="shipments",outcome="deny"} 1"#))
            #expect(lines.contains(#"portcullis_gateway_request_duration_seconds_count{route="shipments"} 4"#))
            // The same token three times and once more: one signature check, three cache hits.
            #expect(lines.contains(#"portcullis_gateway_token_cache_lookups_total{result="miss"} 1"#))
            #expect(lines.contains(#"portcullis_gateway_token_cache_lookups_total{result="hit"} 3"#))
            #expect(lines.contains("portcullis_audit_events_dropped_total 0"))
            #expect(lines.contains("portcullis_audit_accepting_traffic 1"))
            #expect(lines.contains { $0.hasPrefix("portcullis_gateway_open_connections ") })
            // The admin listener is not reachable through a route.
            #expect(try gateway.curl("/metrics", ["-H", "authorization: Bearer \(token)"]).json["target"] as? String == "/metrics")

            let redirect = try GatewayFixture.curl([
                "-H", "Host: shipments.localhost", "http://127.0.0.1:\(gateway.redirectPort)/v1/a/../shipments?x=1",
            ])
            #expect(redirect.status == 308)
            #expect(redirect.header("location") == "https://shipments.localhost:\(gateway.gatewayPort)/v1/shipments?x=1")
            let elsewhere = try GatewayFixture.curl(["-H", "Host: evil.example", "http://127.0.0.1:\(gateway.redirectPort)/"])
            #expect(elsewhere.status == 404, "never a redirect to a host no route names")
            #expect(elsewhere.header("location") == nil)
        }
    }

    @Test func webSocketsPassTheSameChecksAndCarryTheAssertion() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let dispatcher = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let driver = try gateway.accessToken("drew", try await gateway.createUser("drew", roles: ["driver"]))

            let session = try webSocket(gateway, path: "/live/updates", token: dispatcher, messages: ["hello", "binary:crate 7"])
            #expect(session["status"] as? Int == 101)
            #expect(session["echoes"] as? [String] == ["hello", "binary:crate 7"])
            let handshake = try #require(session["handshake"] as? [String: Any])
            #expect(handshake["path"] as? String == "/live/updates")
            let headers = (handshake["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
            #expect(headers.contains { $0.0 == "x-portcullis-assertion" && $0.1.split(separator: ".").count == 3 })
            #expect(headers.contains { $0.0 == "x-forwarded-host" && $0.1 == "shipments.localhost" })
            #expect(!headers.contains { $0.0 == "authorization" }, "the bearer token must not reach the upstream")

            #expect(try webSocket(gateway, path: "/live/updates", token: driver, messages: [])["status"] as? Int == 403)
            #expect(try webSocket(gateway, path: "/live/updates", token: "", messages: [])["status"] as? Int == 401)
            // A route without `websocket: true` refuses the upgrade instead of forwarding it.
            #expect(try webSocket(gateway, path: "/v1/shipments", token: dispatcher, messages: [])["status"] as? Int == 400)

            let requestID = try #require(session["request_id"] as? String)
            var audit = ""
            for _ in 0..<100 where audit.isEmpty {
                audit = try await gateway.cli(["audit", "search", "--request-id", requestID])
                if audit.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(audit.contains(#""route":"live""#))
            #expect(audit.contains(#""upstream_status":101"#))
        }
    }

    /// An open WebSocket ends when its access does: disabling the account closes it with 1008
    /// within the re-check interval, audited; the time is printed.
    @Test func revocationClosesAnOpenWebSocket() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let mark = gateway.directory.appendingPathComponent("revoked-\(UUID().uuidString)")
            let output = gateway.directory.appendingPathComponent("websocket-hold.txt")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"] ?? "/usr/bin/python3")
            process.arguments = [
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/websocket_hold.py").path,
                "wss://shipments.localhost:\(gateway.gatewayPort)/live/updates", "\(gateway.certs)/ca-bundle.crt", token, mark.path,
            ]
            let handle = try FileHandle(forWritingTo: output)
            (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, handle, handle)
            try process.run()
            defer { kill(process.processIdentifier, SIGKILL) }
            func said() -> String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
            for _ in 0..<200 where !said().contains("open") { try await Task.sleep(for: .milliseconds(50)) }
            #expect(said().contains("open"), "\(said())")

            _ = try await gateway.cli(["user", "disable", "dana"])
            FileManager.default.createFile(atPath: mark.path, contents: nil)
            for _ in 0..<200 where !said().contains("closed") { try await Task.sleep(for: .milliseconds(50)) }
            let line = try #require(said().split(separator: "\n").last { $0.hasPrefix("{") }, "\(said())")
            let closed = try #require((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])
            #expect(
                closed["closed"] as? Bool == true && closed["code"] as? Int == 1008 && closed["reason"] as? String == "access revoked", "\(closed)")
            print("an open WebSocket closed \(closed["seconds_after_revocation"] ?? "?") s after its account was disabled (re-check every 1 s)")
            let audit = try await gateway.auditSearch(["--route", "live", "--limit", "20"]) { $0.contains("open WebSocket") }
            #expect(audit.contains("open WebSocket") && audit.contains(#""outcome":"deny""#), "\(audit)")
        }
    }

    @Test func slowAndFloodingClientsAreCutOff() async throws {
        let limits = ["max_connections: 4", "handshake_timeout: 1s", "idle_timeout: 1s", "max_header_count: 40"]
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes, limits: limits) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            // A connection that never starts TLS is closed after the handshake deadline.
            let silent = try RawConnection(port: gateway.gatewayPort)
            #expect(silent.waitForClose(within: 10), "a silent connection stayed open")

            // Slowloris: TLS done, then a request head that never ends.
            let slow = try OpenSSLClient(port: gateway.gatewayPort, serverName: "shipments.localhost", caFile: "\(gateway.certs)/ca-bundle.crt")
            slow.send("GET /v1/shipments HTTP/1.1\r\nHost: shipments.localhost\r\nX-Slow: 1\r\n")
            #expect(slow.waitForExit(within: 10), "a request head sent slowly kept its connection")

            // Beyond max_connections, a new connection is closed at once; the others are not affected.
            let held = try (0..<4).map { _ in try RawConnection(port: gateway.gatewayPort) }
            // Accepted connections are set up on several event loops: let the four be counted first.
            try await Task.sleep(for: .milliseconds(300))
            let extra = try RawConnection(port: gateway.gatewayPort)
            #expect(extra.waitForClose(within: 0.5))
            for connection in held { #expect(connection.waitForClose(within: 10)) }
            #expect(try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer \(token)"]).status == 200)

            let crowded = (0..<60).flatMap { ["-H", "X-Extra-\($0): 1"] }
            #expect(try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer \(token)"] + crowded).status != 200)
            #expect(!gateway.upstreamRequests().contains { ($0["headers"] as? [[String]] ?? []).contains { $0[0] == "x-extra-59" } })

            // At least the extra one (a TLS connection closed just before may still be counted
            // while its close_notify exchange finishes).
            let metrics = try GatewayFixture.curl(["http://\(gateway.adminAddress)/metrics"]).body
            let refused = metrics.split(separator: "\n").first { $0.hasPrefix("portcullis_gateway_refused_connections_total ") }
            #expect((refused?.split(separator: " ").last).flatMap { Int($0) } ?? 0 >= 1, "\(metrics)")
        }
    }

    @Test func policyAndRouteReloadsUnderLoadFailNoRequest() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let load = Task.detached {
                try Self.python(
                    "keepalive_load.py",
                    [
                        "shipments.localhost", "\(gateway.gatewayPort)",
                        "\(gateway.certs)/ca-bundle.crt", token, "/v1/shipments", "6", "4",
                    ])
            }
            let policyFile = gateway.directory.appendingPathComponent("policies/logistics.cedar")
            let configFile = gateway.directory.appendingPathComponent("config.yaml")
            let configuration = try String(contentsOf: configFile, encoding: .utf8)
            for round in 1...5 {
                try await Task.sleep(for: .milliseconds(900))
                try (Self.policies["logistics.cedar"]! + "\n// revision \(round)\n").write(to: policyFile, atomically: true, encoding: .utf8)
                try
                    (configuration
                    + "\n    - id: extra-\(round)\n      hosts: [shipments.localhost]\n      path: /extra-\(round)\n      upstream: http://127.0.0.1:9\n")
                    .write(to: configFile, atomically: true, encoding: .utf8)
            }
            let result = try #require(try JSONSerialization.jsonObject(with: Data(try await load.value.utf8)) as? [String: Any])
            let statuses = try #require(result["statuses"] as? [String: Int])
            #expect(result["errors"] as? Int == 0)
            #expect(statuses.keys.sorted() == ["200"], "\(result)")
            #expect((statuses["200"] ?? 0) > 50)
            #expect(gateway.serve.standardError.contains("policies reloaded"))
            // The last route added comes into force (the files are checked every second): policy
            // denies it (403), where before the reload the path fell under the `shipments` route,
            // which the dispatcher may read.
            var status = 0
            for _ in 0..<10 {
                status = try gateway.curl("/extra-5/x", ["-H", "authorization: Bearer \(token)"]).status
                if status == 403 { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(status == 403)
        }
    }

    @Test func shutdownDrainsRequestsInFlight() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let slow = Task.detached { try gateway.curl("/v1/shipments?sleep=2", ["-H", "authorization: Bearer \(token)"]) }
            // The upstream holds the request for 2 s; stop the server while it does.
            try await Task.sleep(for: .seconds(1))
            gateway.serve.signal(SIGTERM)
            let reply = try await slow.value
            #expect(reply.status == 200, "the request in flight at SIGTERM was cut off")
            #expect(try await gateway.serve.wait() == 0)
        }
    }

    @Test func anActiveBrowserSessionSlidesAndAnIdleOneEnds() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes, gatewayLines: ["session_idle_timeout: 4s"]) { gateway in
            let session = try gateway.signIn("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let browser = session.options
            let first = session.setCookie
            #expect(first.contains("Max-Age=4"))

            // Within the first half of the window nothing is re-issued.
            let early = try gateway.curl("/v1/shipments", browser)
            #expect(early.status == 200)
            #expect(!early.headers.contains { $0.name == "set-cookie" })
            // Past half of it, a request slides the window: a new cookie with a new 4 s lifetime.
            try await Task.sleep(for: .milliseconds(2_500))
            let late = try gateway.curl("/v1/shipments", browser)
            #expect(late.status == 200)
            let renewed = try #require(late.headers.first { $0.name == "set-cookie" }?.value)
            #expect(renewed.hasPrefix("__Host-portcullis=") && renewed.contains("Max-Age=4") && renewed.contains("HttpOnly"))
            #expect(renewed != first)
            // 5 s after sign-in the first cookie has expired, the renewed one still works.
            try await Task.sleep(for: .milliseconds(2_500))
            let original = String(first.dropFirst("__Host-portcullis=".count).prefix { $0 != ";" })
            #expect(try gateway.curl("/v1/shipments", ["-H", "cookie: __Host-portcullis=\(original)"]).status == 401)
            #expect(try gateway.curl("/v1/shipments", browser).status == 200)
        }
    }

    /// A browser session on a connection with a device certificate from the internal CA is a
    /// managed device (`context.device`); the same session without it is not.
    @Test func aDeviceCertificateMarksABrowserSessionAsManaged() async throws {
        let policies = [
            "devices.cedar": """
            @id("dispatchers-from-managed-devices")
            permit (principal in Role::"dispatcher", action, resource == Route::"shipments")
            when { context has device && context.device.managed && context.device.id == "laptop-17" };
            """
        ]
        try await GatewayFixture.run(policies: policies, routes: Self.routes) { gateway in
            let password = try await gateway.createUser("dana", roles: ["dispatcher"])
            _ = try await gateway.cli([
                "cert", "issue", "--spiffe", "spiffe://\(GatewayFixture.trustDomain)/device/laptop-17",
                "--out", "\(gateway.certs)/laptop", "--ca", gateway.certs,
            ])
            let browser = try gateway.signIn("dana", password).options
            #expect(try gateway.curl("/v1/shipments", browser).status == 403)
            let device = ["--cert", "\(gateway.certs)/laptop.crt", "--key", "\(gateway.certs)/laptop.key"]
            #expect(try gateway.curl("/v1/shipments", browser + device).status == 200)
            // A workload certificate is not a device.
            let workload = ["--cert", "\(gateway.certs)/billing.crt", "--key", "\(gateway.certs)/billing.key"]
            #expect(try gateway.curl("/v1/shipments", browser + workload).status == 403)
        }
    }

    /// An `https://` upstream that requires a client certificate: the gateway presents its own
    /// workload certificate and checks the upstream's against the internal CA. The routes are
    /// added to the running gateway by editing its configuration file.
    @Test func httpsUpstreamsGetTheGatewaysClientCertificate() async throws {
        let policies = [
            "logistics.cedar": """
            @id("dispatchers-read-everything")
            permit (principal in Role::"dispatcher", action in Action::"read", resource);
            """
        ]
        try await GatewayFixture.run(policies: policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let certs = gateway.certs
            _ = try await gateway.cli([
                "cert", "issue", "--spiffe", "spiffe://\(GatewayFixture.trustDomain)/shipments-api", "--server",
                "--dns", "localhost", "--out", "\(certs)/upstream", "--ca", certs,
            ])
            _ = try await gateway.cli([
                "cert", "issue", "--spiffe", "spiffe://\(GatewayFixture.trustDomain)/gateway-client",
                "--out", "\(certs)/gateway-client", "--ca", certs,
            ])
            let portFile = gateway.directory.appendingPathComponent("tls-upstream.port")
            let upstream = Process()
            upstream.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"] ?? "/usr/bin/python3")
            upstream.arguments = [
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tls_upstream.py").path,
                portFile.path, "\(certs)/upstream.crt", "\(certs)/upstream.key", "\(certs)/ca-bundle.crt",
            ]
            upstream.standardOutput = FileHandle.nullDevice
            upstream.standardError = FileHandle.nullDevice
            upstream.standardInput = FileHandle.nullDevice
            try upstream.run()
            defer { kill(upstream.processIdentifier, SIGKILL) }
            var port = ""
            for _ in 0..<200 where port.isEmpty {
                port = (try? String(contentsOf: portFile, encoding: .utf8)) ?? ""
                if port.isEmpty { try await Task.sleep(for: .milliseconds(25)) }
            }

            let configFile = gateway.directory.appendingPathComponent("config.yaml")
            try
                (try String(contentsOf: configFile, encoding: .utf8) + """

                        - id: secure
                          hosts: [shipments.localhost]
                          path: /secure
                          upstream: https://localhost:\(port)
                          upstream_ca: \(certs)/ca-bundle.crt
                          upstream_certificate: \(certs)/gateway-client.crt
                          upstream_key: \(certs)/gateway-client.key
                        - id: secure-without-certificate
                          hosts: [shipments.localhost]
                          path: /secure-anonymous
                          upstream: https://localhost:\(port)
                          upstream_ca: \(certs)/ca-bundle.crt
                        - id: secure-as-http2
                          hosts: [shipments.localhost]
                          path: /secure-h2
                          upstream: https://localhost:\(port)
                          upstream_protocol: h2
                          upstream_ca: \(certs)/ca-bundle.crt
                          upstream_certificate: \(certs)/gateway-client.crt
                          upstream_key: \(certs)/gateway-client.key

                    """).write(to: configFile, atomically: true, encoding: .utf8)
            var reply = try gateway.curl("/secure/orders", ["-H", "authorization: Bearer \(token)"])
            for _ in 0..<100 where reply.json["peer_spiffe_ids"] == nil {
                try await Task.sleep(for: .milliseconds(100))
                reply = try gateway.curl("/secure/orders", ["-H", "authorization: Bearer \(token)"])
            }
            #expect(reply.status == 200, "\(reply.body)")
            #expect(reply.json["peer_spiffe_ids"] as? [String] == ["spiffe://\(GatewayFixture.trustDomain)/gateway-client"])
            #expect(reply.json["target"] as? String == "/secure/orders")
            // Without a client certificate the upstream refuses the handshake: 502, never a bypass.
            #expect(try gateway.curl("/secure-anonymous/orders", ["-H", "authorization: Bearer \(token)"]).status == 502)
            // An `h2` route to an upstream that speaks only HTTP/1.1 (ALPN agreed on nothing): the
            // connection is dropped at the handshake, 502, and the audit record says why.
            let http1Only = try gateway.curl("/secure-h2/orders", ["-H", "authorization: Bearer \(token)"])
            #expect(http1Only.status == 502, "\(http1Only.body)")
            let audit = try await gateway.auditSearch(["--route", "secure-as-http2", "--limit", "5"]) { $0.contains("did not agree to HTTP/2") }
            #expect(audit.contains("did not agree to HTTP/2"), "\(audit)")
        }
    }

    // MARK: Helpers

    func webSocket(_ gateway: GatewayFixture, path: String, token: String, messages: [String]) throws -> [String: Any] {
        let output = try Self.python(
            "websocket_client.py",
            [
                "wss://shipments.localhost:\(gateway.gatewayPort)\(path)",
                "\(gateway.certs)/ca-bundle.crt", token,
            ] + messages)
        return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
    }

    /// Runs a fixture script with the test Python and returns its standard output.
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(script)").path
        return try GatewayFixture.standardOutput(
            of: ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"] ?? "/usr/bin/python3",
            [path] + arguments)
    }
}
