import Foundation
import TestSupport
import Testing

/// gRPC through the gateway end to end (issue 23), with implementations nobody here wrote:
/// grpcio (Python) as client (`Fixtures/grpc_calls.py`) and as upstream server
/// (`Fixtures/grpc_upstream.py`), over h2c and over h2 with TLS, authenticated by bearer token
/// and by mTLS, decided by Cedar with `context.grpc`. Open calls and WebSockets are closed once
/// their access ends.
@Suite(.serialized) struct GRPCProxyTests {
    static let routes = """
            - id: grpc
              hosts: [grpc.localhost]
              path: /
              upstream: GRPC_H2C
              upstream_protocol: h2c
              max_body_mb: 200
            - id: grpcs
              hosts: [grpcs.localhost]
              path: /
              upstream: GRPC_H2
              upstream_protocol: h2
              upstream_ca: CERTS/ca-bundle.crt
              max_stream_lifetime: 3s
            - id: grpc-down
              hosts: [grpc.localhost]
              path: /test.Echo/Down
              upstream: http://127.0.0.1:9
              upstream_protocol: h2c
            - id: live
              hosts: [fleet.localhost]
              path: /live
              upstream: WSUPSTREAM
              websocket: true
        """

    /// What the policy push of `openCallsAndWebSocketsCloseWhenAccessEnds` takes away.
    static let dispatcherPermits = """
        @id("dispatchers-call-echo")
        permit (principal in Role::"dispatcher", action == Action::"POST", resource)
        when { [Route::"grpc", Route::"grpcs", Route::"grpc-down", Route::"grpc-web"].contains(resource) && context has grpc && context.grpc.service == "test.Echo" };

        @id("dispatchers-watch-live")
        permit (principal in Role::"dispatcher", action == Action::"GET", resource == Route::"live");

        """

    static let servicePolicies = """
        @id("billing-calls-echo")
        permit (principal == Service::"billing", action == Action::"POST", resource == Route::"grpc") when { context has grpc };

        @id("no-failing-over-tls")
        forbid (principal, action, resource is Route) when { [Route::"grpcs", Route::"grpc-web"].contains(resource) && context has grpc && context.grpc.method == "Fail" };
        """

    static let policies = ["grpc.cedar": dispatcherPermits + servicePolicies, "schema.cedarschema": schema]

    /// The shipped schema, which declares `context.grpc`: pushed policies are validated against it.
    static var schema: String {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../policies/schema.cedarschema")
        return (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    }

    static var script: String { fixture("grpc_calls.py") }

    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
    }

    /// `grpc_calls.py` through the gateway to `host` with `credentials`, parsed.
    static func calls(_ gateway: GatewayFixture, host: String, _ arguments: [String], credentials: [String]) throws -> Any {
        let output = try GatewayFixture.standardOutput(
            of: ConsoleBrowserTests.python,
            [script, "--port", "\(gateway.gatewayPort)", "--authority", host, "--ca", "\(gateway.certs)/ca-bundle.crt"] + credentials
                + arguments)
        return try #require(try? JSONSerialization.jsonObject(with: Data(output.utf8)), "\(output)")
    }

    @Test func unaryAndStreamingCallsPassOverH2cAndH2() async throws {
        try #require(ConsoleBrowserTests.pythonHas("grpc"), "grpcio is required (scripts/test installs it)")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            var refusedCall: String?
            for (host, route) in [("grpc.localhost", "grpc"), ("grpcs.localhost", "grpcs")] {
                let results = try #require(
                    try Self.calls(gateway, host: host, ["calls"], credentials: ["--token", token]) as? [[String: Any]])
                let byName = Dictionary(uniqueKeysWithValues: results.map { ($0["name"] as? String ?? "", $0) })
                func strings(_ name: String) -> [String] { byName[name]?["messages"] as? [String] ?? [] }
                func trailer(_ name: String) -> String? { (byName[name]?["trailing_metadata"] as? [String: String])?["x-echo-trailer"] }
                #expect(byName["unary"]?["code"] as? String == "OK" && strings("unary") == ["hello"], "\(route): \(results)")
                #expect((byName["unary"]?["initial_metadata"] as? [String: String])?["x-echo-initial"] == "yes", "\(route)")
                #expect(trailer("unary") == "unary", "\(route): upstream trailers reach the client")
                #expect(strings("server-stream").count == 5 && trailer("server-stream") == "server-stream", "\(route): \(results)")
                let summed = try #require(
                    strings("client-stream").first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
                #expect(summed["messages"] as? Int == 10 && summed["bytes"] as? Int == 10_000, "\(route): \(summed)")
                #expect(strings("bidi") == (0..<5).map { "bidi-\($0)" } && trailer("bidi") == "bidi", "\(route): \(results)")

                // What the upstream received: the signed assertion as metadata, never the token.
                let seen = try #require((byName["metadata"]?["messages"] as? [String: Any])?["metadata"] as? [String: String], "\(results)")
                #expect(seen["authorization"] == nil && seen["x-request-id"] != nil, "\(seen)")
                let claims = try gateway.pyjwtClaims(try #require(seen["x-portcullis-assertion"]), audience: route)
                #expect(claims["sub"] as? String == "dana", "\(claims)")

                // The upstream's own failure passes with its trailers; over TLS a policy on the method refuses it first.
                if route == "grpc" {
                    #expect(byName["fail"]?["code"] as? String == "NOT_FOUND" && trailer("fail") == "fail", "\(byName["fail"] ?? [:])")
                } else {
                    #expect(byName["fail"]?["code"] as? String == "PERMISSION_DENIED", "\(results)")
                    refusedCall = (byName["fail"]?["trailing_metadata"] as? [String: String])?["x-request-id"]
                    #expect(refusedCall != nil, "\(results)")
                }
            }
            try await Self.replayRefusedCall(try #require(refusedCall), gateway)

            // A service with its SPIFFE certificate (mTLS).
            _ = try await gateway.cli(["service", "add", "billing", "--spiffe-id", "spiffe://\(GatewayFixture.trustDomain)/billing"])
            let mtls = try #require(
                try Self.calls(
                    gateway, host: "grpc.localhost", ["calls"],
                    credentials: ["--cert", "\(gateway.certs)/billing.crt", "--key", "\(gateway.certs)/billing.key"]) as? [[String: Any]])
            #expect(mtls.filter { $0["name"] as? String != "fail" }.allSatisfy { $0["code"] as? String == "OK" }, "\(mtls)")
            let anonymous = try #require(try Self.calls(gateway, host: "grpc.localhost", ["calls"], credentials: []) as? [[String: Any]])
            #expect(anonymous.allSatisfy { $0["code"] as? String == "UNAUTHENTICATED" }, "\(anonymous)")

            // Details are JSON inside the record's JSON: their quotes are escaped.
            let unary = #"\"grpc\":{\"service\":\"test.Echo\",\"method\":\"Unary\",\"status\":0}"#
            let audit = try await gateway.auditSearch(["--route", "grpc", "--limit", "200"]) {
                $0.contains(unary) && $0.contains(#"\"closed_by\":\"ended\""#)
            }
            #expect(audit.contains(unary), "\(audit)")
            #expect(audit.contains(#"\"method\":\"Fail\",\"status\":5"#), "the upstream's NOT_FOUND is audited: \(audit)")
            #expect(audit.contains(#"\"kind\":\"stream\""#) && audit.contains(#"\"closed_by\":\"ended\""#), "\(audit)")
            let metrics = try GatewayFixture.curl(["http://\(gateway.adminAddress)/metrics"]).body
            #expect(metrics.contains(#"portcullis_gateway_grpc_calls_total{route="grpc",service="test.Echo",method="Unary",code="0"}"#), "\(metrics)")
            #expect(metrics.contains("portcullis_gateway_streams_closed_total"), "\(metrics)")
        }
    }

    /// The policy tools replay an audited gRPC call as a gRPC call (with `context.grpc`):
    /// `policy explain` names the forbid that refused it, and `policy diff` against a set
    /// without that forbid lists the call among the decisions that change.
    static func replayRefusedCall(_ requestID: String, _ gateway: GatewayFixture) async throws {
        let policies = gateway.directory.appendingPathComponent("policies")
        _ = try await gateway.auditSearch(["--request-id", requestID]) { $0.contains(requestID) }
        let explained = try await gateway.cli([
            "policy", "explain", "--request-id", requestID, "--policies", policies.path, "--config", gateway.configFile,
        ])
        #expect(explained.hasPrefix("decision: Deny"), "\(explained)")
        #expect(explained.contains("/test.Echo/Fail") && explained.contains("gRPC"), "\(explained)")
        #expect(explained.contains("no-failing-over-tls"), "\(explained)")

        let lenient = gateway.directory.appendingPathComponent("policies-without-forbid")
        try FileManager.default.createDirectory(at: lenient, withIntermediateDirectories: true)
        let withoutForbid = servicePolicies.components(separatedBy: "@id(\"no-failing-over-tls\")")[0]
        try (dispatcherPermits + withoutForbid).write(to: lenient.appendingPathComponent("grpc.cedar"), atomically: true, encoding: .utf8)
        let diff = try await PolicyToolsTests.run(
            ["policy", "diff", policies.path, lenient.path, "--config", gateway.configFile], environment: gateway.environment)
        #expect(diff.status == 1, "\(diff.output)\(diff.errors)")
        // Allowed by a permit that needs `context has grpc`: the call was replayed as a gRPC call.
        let changed = diff.output.split(separator: "\n").filter { $0.contains("→") && $0.hasPrefix("    ") }
        #expect(
            changed == ["    POST /test.Echo/Fail (token, seen 1×): Deny → Allow  [old: no-failing-over-tls; new: dispatchers-call-echo]"],
            "\(diff.output)")
    }

    /// A service's call over mTLS ends the same way when its certificate is revoked, and when
    /// the service account is disabled.
    @Test func aServiceCallClosesWhenItsCertificateIsRevokedOrTheServiceDisabled() async throws {
        try #require(ConsoleBrowserTests.pythonHas("grpc"), "grpcio is required (scripts/test installs it)")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let spiffeID = "spiffe://\(GatewayFixture.trustDomain)/billing"
            _ = try await gateway.cli(["service", "add", "billing", "--spiffe-id", spiffeID])
            let revocations: [(String, (String) async throws -> Void)] = [
                (
                    "its certificate was revoked",
                    { prefix in _ = try await gateway.cli(["cert", "revoke", prefix + ".crt", "--reason", "keyCompromise"]) }
                ),
                ("the service was disabled", { _ in _ = try await gateway.cli(["service", "disable", "billing"]) }),
            ]
            for (index, (what, revoke)) in revocations.enumerated() {
                let prefix = gateway.directory.appendingPathComponent("billing-\(index)").path
                _ = try await gateway.cli(["cert", "issue", "--spiffe", spiffeID, "--out", prefix, "--ca", gateway.certs])
                let mark = gateway.directory.appendingPathComponent("service-revoked-\(index)")
                let call = try Hold(
                    [
                        Self.script, "--port", "\(gateway.gatewayPort)", "--authority", "grpc.localhost", "--ca", "\(gateway.certs)/ca-bundle.crt",
                        "--cert", prefix + ".crt", "--key", prefix + ".key", "hold", "--mark", mark.path,
                    ], output: gateway.directory.appendingPathComponent("service-call-\(index).txt"))
                defer { call.stop() }
                try await call.waitFor("open")
                try await revoke(prefix)
                FileManager.default.createFile(atPath: mark.path, contents: nil)
                let end = try await call.closing()
                #expect(end["closed"] as? Bool == true && end["code"] as? String == "UNAUTHENTICATED", "\(what): \(end)")
                #expect((end["details"] as? String ?? "").hasPrefix("access revoked"), "\(what): \(end)")
                print("a service's open server-streaming call over mTLS, \(what): closed \(end["seconds_after_mark"] ?? "?") s after")
                #expect((end["seconds_after_mark"] as? Double).map { $0 < 5 } == true, "\(what): closed by the re-decision: \(end)")
            }
            let audit = try await gateway.auditSearch(["--route", "grpc", "--limit", "50"]) {
                $0.components(separatedBy: #"\"closed_by\":\"revoked\""#).count == 3
            }
            #expect(audit.components(separatedBy: #"\"closed_by\":\"revoked\""#).count == 3, "\(audit)")
        }
    }

    /// gRPC-Web, as browsers call: sonora's client (binary, over HTTP/1.1) and the text form,
    /// through the gateway to grpcio over h2c. The calls are decided as gRPC calls (the permit
    /// needs `context.grpc`), reach the upstream as gRPC with the signed assertion, and come back
    /// with their trailers as the body's last frame; refusals too.
    @Test func grpcWebCallsPassAsGRPCCalls() async throws {
        try #require(ConsoleBrowserTests.pythonHas("sonora"), "sonora is required (scripts/test installs it)")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            func calls(_ credentials: [String]) throws -> [String: [String: Any]] {
                let output = try GatewayFixture.standardOutput(
                    of: ConsoleBrowserTests.python,
                    [
                        Self.fixture("grpc_web_calls.py"), "--url", "https://grpc.localhost:\(gateway.gatewayPort)", "--ca",
                        "\(gateway.certs)/ca-bundle.crt",
                    ]
                        + credentials)
                let results = try #require(try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]], "\(output)")
                return Dictionary(uniqueKeysWithValues: results.map { ($0["name"] as? String ?? "", $0) })
            }
            let byName = try calls(["--token", token])
            func messages(_ name: String) -> [String] { byName[name]?["messages"] as? [String] ?? [] }
            func trailers(_ name: String) -> [String: String] { byName[name]?["trailing_metadata"] as? [String: String] ?? [:] }
            #expect(byName["unary"]?["code"] as? String == "OK" && messages("unary") == ["hello"], "\(byName)")
            #expect(trailers("unary")["x-echo-trailer"] == "unary", "\(byName)")
            #expect(messages("server-stream").count == 5 && trailers("server-stream")["x-echo-trailer"] == "server-stream", "\(byName)")
            #expect(byName["fail"]?["code"] as? String == "NOT_FOUND" && byName["fail"]?["details"] as? String == "failed on purpose")
            #expect(byName["text-unary"]?["code"] as? String == "OK" && messages("text-unary") == ["hello"], "\(byName)")
            #expect(byName["text-unary"]?["content_type"] as? String == "application/grpc-web-text", "\(byName)")
            #expect(messages("text-server-stream").count == 3 && trailers("text-server-stream")["x-echo-trailer"] == "server-stream")

            // The upstream (grpcio, which serves only application/grpc) got the assertion, never the token.
            let seen = try #require(
                messages("metadata").first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?["metadata"]
                    as? [String: String], "\(byName)")
            #expect(seen["authorization"] == nil && seen["x-request-id"] != nil, "\(seen)")
            #expect(try gateway.pyjwtClaims(try #require(seen["x-portcullis-assertion"]), audience: "grpc")["sub"] as? String == "dana")

            // The text form from curl over HTTP/2: the answer is one base64 stream, message then trailer frame.
            let call = Data([0, 0, 0, 0, 5] + Array("hello".utf8)).base64EncodedString()
            let overHTTP2 = try gateway.curl(
                "/test.Echo/Unary",
                ["--http2", "-H", "content-type: application/grpc-web-text", "-H", "authorization: Bearer \(token)", "--data-binary", call],
                host: "grpc.localhost")
            let answer = try #require(Data(base64Encoded: overHTTP2.body), "\(overHTTP2.status) \(overHTTP2.body)")
            #expect(overHTTP2.status == 200 && overHTTP2.header("content-type") == "application/grpc-web-text", "\(overHTTP2.headers)")
            #expect(answer.prefix(10) == Data([0, 0, 0, 0, 5] + Array("hello".utf8)), "\(Array(answer))")
            let trailerBlock = String(decoding: answer.dropFirst(15), as: UTF8.self)
            #expect(answer.count > 15 && answer[answer.startIndex + 10] == 0x80 && trailerBlock.contains("grpc-status: 0\r\n"), "\(trailerBlock)")

            // A text body that is not base64 ends the call (its stream to the upstream is reset), never in success.
            let garbled = try gateway.curl(
                "/test.Echo/Unary",
                ["--http2", "-H", "content-type: application/grpc-web-text", "-H", "authorization: Bearer \(token)", "--data-binary", "AAAA*AAA"],
                host: "grpc.localhost")
            let garbledAnswer = Data(base64Encoded: garbled.body).map { String(decoding: $0, as: UTF8.self) } ?? garbled.body
            #expect(garbled.status == 200 && garbledAnswer.contains("grpc-status: 14\r\n"), "\(garbled.status) \(garbledAnswer)")

            // Without credentials: UNAUTHENTICATED, read from the trailer frame, with the request id.
            let anonymous = try calls([])
            #expect(anonymous.values.allSatisfy { $0["code"] as? String == "UNAUTHENTICATED" }, "\(anonymous)")
            let refusal = anonymous["text-unary"]?["trailing_metadata"] as? [String: String] ?? [:]
            #expect(refusal["x-request-id"] != nil && refusal["grpc-message"] != nil, "\(refusal)")

            let unary = #"\"grpc\":{\"service\":\"test.Echo\",\"method\":\"Unary\",\"status\":0}"#
            let audit = try await gateway.auditSearch(["--route", "grpc", "--limit", "50"]) { $0.contains(unary) }
            #expect(audit.contains(unary), "\(audit)")

            // An open gRPC-Web stream is watched like a gRPC call: closed, with a status the client reads.
            let stream = try Hold(
                [
                    Self.fixture("grpc_web_calls.py"), "--url", "https://grpc.localhost:\(gateway.gatewayPort)", "--ca",
                    "\(gateway.certs)/ca-bundle.crt", "--token", token, "--hold",
                ], output: gateway.directory.appendingPathComponent("web-stream.txt"))
            defer { stream.stop() }
            try await stream.waitFor("open")
            _ = try await gateway.cli(["user", "disable", "dana"])
            let ended = try await stream.closing()
            #expect(ended["code"] as? String == "UNAUTHENTICATED" && (ended["details"] as? String ?? "").hasPrefix("access revoked"), "\(ended)")
        }
    }

    /// A service that speaks gRPC-Web itself, behind an HTTP/1.1 route, gets the call as sent,
    /// and the gateway still decides it as the gRPC call it is: a forbid on the method applies,
    /// and its refusal reaches the client in gRPC-Web's form.
    @Test func aGRPCWebUpstreamGetsTheCallAsSentDecidedAsGRPC() async throws {
        try #require(ConsoleBrowserTests.pythonHas("sonora"), "sonora is required (scripts/test installs it)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-web-upstream-\(UUID().uuidString).txt")
        let upstream = try Hold([Self.fixture("grpc_web_upstream.py")], output: directory)
        defer {
            upstream.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        try await upstream.waitFor("port ")
        let port = try #require(upstream.said.firstMatch(of: /port (\d+)/).map { String($0.1) })
        let routes =
            Self.routes + """

                    - id: grpc-web
                      hosts: [grpcs.localhost]
                      path: /test.Echo
                      upstream: http://127.0.0.1:\(port)
                """
        try await GatewayFixture.run(policies: Self.policies, routes: routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let output = try GatewayFixture.standardOutput(
                of: ConsoleBrowserTests.python,
                [
                    Self.fixture("grpc_web_calls.py"), "--url", "https://grpcs.localhost:\(gateway.gatewayPort)", "--ca",
                    "\(gateway.certs)/ca-bundle.crt", "--token", token,
                ])
            let results = try #require(try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]], "\(output)")
            let byName = Dictionary(uniqueKeysWithValues: results.map { ($0["name"] as? String ?? "", $0) })
            #expect(byName["unary"]?["code"] as? String == "OK" && byName["unary"]?["messages"] as? [String] == ["hello"], "\(byName)")
            #expect((byName["server-stream"]?["messages"] as? [String])?.count == 5, "\(byName)")
            // (sonora's server decodes a text body only in one unbroken segment; the fixture sends two, so
            // only the binary calls are checked here.)
            #expect(byName["fail"]?["code"] as? String == "PERMISSION_DENIED", "the forbid on the method applies: \(byName)")
            let audit = try await gateway.auditSearch(["--route", "grpc-web", "--limit", "20"]) { $0.contains(#"\"method\":\"Fail\""#) }
            #expect(audit.contains(#"\"grpc\":{\"service\":\"test.Echo\",\"method\":\"Fail\""#), "\(audit)")
        }
    }

    @Test func aHundredMebibyteStreamPassesInBoundedMemory() async throws {
        try #require(ConsoleBrowserTests.pythonHas("grpc"), "grpcio is required (scripts/test installs it)")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let before = try Self.memory(of: gateway.serve.processIdentifier)
            let up = try #require(
                try Self.calls(gateway, host: "grpc.localhost", ["big", "--mib", "100"], credentials: ["--token", token]) as? [String: Any])
            let answer = try #require(up["answer"] as? [String: Any], "\(up)")
            #expect(up["code"] as? String == "OK" && answer["bytes"] as? Int == 100 << 20, "\(up)")
            #expect(answer["sha256"] as? String == up["sha256_sent"] as? String, "the upstream received every byte in order")
            let down = try #require(
                try Self.calls(gateway, host: "grpc.localhost", ["big", "--mib", "100", "--download"], credentials: ["--token", token])
                    as? [String: Any])
            #expect(down["code"] as? String == "OK" && down["received_bytes"] as? Int == 100 << 20, "\(down)")
            let after = try Self.memory(of: gateway.serve.processIdentifier)
            let growth = (after.peak - before.peak) >> 20
            print(
                "100 MiB up in \(up["seconds"] ?? "?") s and 100 MiB down in \(down["seconds"] ?? "?") s through the gateway; "
                    + "its peak resident memory went from \(before.peak >> 20) to \(after.peak >> 20) MiB")
            // Streamed, not buffered: the gateway's peak grows by far less than one direction's payload.
            #expect(growth < 64, "peak memory grew by \(growth) MiB")
        }
    }

    /// Peak and current resident bytes of a process (`/proc/PID/status`).
    static func memory(of pid: Int32) throws -> (peak: Int, current: Int) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func kilobytes(_ field: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) << 10
        }
        return (kilobytes("VmHWM"), kilobytes("VmRSS"))
    }

    @Test func openCallsAndWebSocketsCloseWhenAccessEnds() async throws {
        try #require(ConsoleBrowserTests.pythonHas("grpc"), "grpcio is required (scripts/test installs it)")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes, policySource: "database") { gateway in
            let revocations: [(String, (String) async throws -> Void)] = [
                ("the account was disabled", { login in _ = try await gateway.cli(["user", "disable", login]) }),
                (
                    "the session was signed out",
                    { token in
                        let reply = try GatewayFixture.curl([
                            "-X", "POST", "-H", "authorization: Bearer \(token)", "http://127.0.0.1:\(gateway.identityPort)/v1/logout",
                        ])
                        #expect(reply.status < 300, "\(reply.status) \(reply.body)")
                    }
                ),
                (
                    "a policy push removed the permit",
                    { _ in
                        let directory = gateway.directory.appendingPathComponent("policies-without-permit")
                        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                        try Self.servicePolicies.write(to: directory.appendingPathComponent("grpc.cedar"), atomically: true, encoding: .utf8)
                        try Self.schema.write(to: directory.appendingPathComponent("schema.cedarschema"), atomically: true, encoding: .utf8)
                        _ = try await gateway.cli(["policy", "push", directory.path, "-m", "no more echo calls"])
                    }
                ),
            ]
            for (index, (what, revoke)) in revocations.enumerated() {
                let login = "dana\(index)"
                let token = try gateway.accessToken(login, try await gateway.createUser(login, roles: ["dispatcher"]))
                let mark = gateway.directory.appendingPathComponent("revoked-\(index)")
                let call = try Hold(
                    [
                        Self.script, "--port", "\(gateway.gatewayPort)", "--authority", "grpc.localhost", "--ca", "\(gateway.certs)/ca-bundle.crt",
                        "--token", token, "hold", "--mark", mark.path,
                    ], output: gateway.directory.appendingPathComponent("call-\(index).txt"))
                let upload = try Hold(
                    [
                        Self.script, "--port", "\(gateway.gatewayPort)", "--authority", "grpc.localhost", "--ca", "\(gateway.certs)/ca-bundle.crt",
                        "--token", token, "hold", "--mark", mark.path, "--upload",
                    ], output: gateway.directory.appendingPathComponent("upload-\(index).txt"))
                let socket = try Hold(
                    [
                        Self.fixture("websocket_hold.py"), "wss://fleet.localhost:\(gateway.gatewayPort)/live/updates",
                        "\(gateway.certs)/ca-bundle.crt", token, mark.path,
                    ], output: gateway.directory.appendingPathComponent("socket-\(index).txt"))
                defer {
                    call.stop()
                    socket.stop()
                }
                try await call.waitFor("open")
                try await socket.waitFor("open")

                try await revoke(index == 0 ? login : token)
                FileManager.default.createFile(atPath: mark.path, contents: nil)
                let callEnd = try await call.closing()
                let socketEnd = try await socket.closing()
                // A client-streaming call, still waiting for its answer, is closed the same way.
                let uploadEnd = try await upload.closing()
                let expected = index == 2 ? "PERMISSION_DENIED" : "UNAUTHENTICATED"
                #expect(uploadEnd["closed"] as? Bool == true && uploadEnd["code"] as? String == expected, "\(what): \(uploadEnd)")
                #expect(callEnd["closed"] as? Bool == true && callEnd["code"] as? String == expected, "\(what): \(callEnd)")
                #expect((callEnd["details"] as? String ?? "").hasPrefix("access revoked"), "\(what): \(callEnd)")
                #expect((callEnd["trailing_metadata"] as? [String: String])?["x-request-id"] != nil, "\(callEnd)")
                #expect(socketEnd["closed"] as? Bool == true && socketEnd["code"] as? Int == 1008, "\(what): \(socketEnd)")
                print(
                    "\(what): the open server-streaming call closed \(callEnd["seconds_after_mark"] ?? "?") s after, "
                        + "the client-streaming call \(uploadEnd["seconds_after_mark"] ?? "?") s after, "
                        + "the WebSocket \(socketEnd["seconds_after_revocation"] ?? "?") s after (re-decided every 1 s)")
                let seconds = [callEnd["seconds_after_mark"], uploadEnd["seconds_after_mark"], socketEnd["seconds_after_revocation"]]
                    .compactMap { $0 as? Double }
                #expect(seconds.count == 3 && seconds.allSatisfy { $0 < 5 }, "\(what): closed by the re-decision, not a timeout: \(seconds)")
            }
            let audit = try await gateway.auditSearch(["--route", "grpc", "--limit", "50"]) { $0.contains(#"\"closed_by\":\"revoked\""#) }
            #expect(audit.contains(#"\"closed_by\":\"revoked\""#) && audit.contains("open stream"), "\(audit)")
            let sockets = try await gateway.auditSearch(["--route", "live", "--limit", "50"]) { $0.contains(#"\"kind\":\"websocket\""#) }
            #expect(sockets.contains(#"\"kind\":\"websocket\""#) && sockets.contains("open WebSocket"), "\(sockets)")
        }
    }

    @Test func deadlinesAndLifetimesBoundCalls() async throws {
        try #require(ConsoleBrowserTests.pythonHas("grpc"), "grpcio is required (scripts/test installs it)")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let late = try #require(
                try Self.calls(gateway, host: "grpc.localhost", ["timeout", "--seconds", "5", "--deadline", "1"], credentials: ["--token", token])
                    as? [String: Any])
            #expect(late["code"] as? String == "DEADLINE_EXCEEDED", "\(late)")
            let onTime = try #require(
                try Self.calls(gateway, host: "grpc.localhost", ["timeout", "--seconds", "0.2", "--deadline", "5"], credentials: ["--token", token])
                    as? [String: Any])
            #expect(onTime["code"] as? String == "OK", "\(onTime)")
            // An upstream that does not answer: UNAVAILABLE, with the request id to find the record.
            let down = try #require(
                try Self.calls(
                    gateway, host: "grpc.localhost", ["timeout", "--seconds", "0", "--deadline", "10", "--method", "Down"],
                    credentials: ["--token", token]) as? [String: Any])
            #expect(down["code"] as? String == "UNAVAILABLE", "\(down)")
            #expect((down["trailing_metadata"] as? [String: String])?["x-request-id"] != nil, "\(down)")

            // `grpcs` allows streams 3 s: an endless server stream is ended there, UNAVAILABLE.
            let mark = gateway.directory.appendingPathComponent("never")
            let call = try Hold(
                [
                    Self.script, "--port", "\(gateway.gatewayPort)", "--authority", "grpcs.localhost", "--ca", "\(gateway.certs)/ca-bundle.crt",
                    "--token", token, "hold", "--mark", mark.path,
                ], output: gateway.directory.appendingPathComponent("lifetime.txt"))
            defer { call.stop() }
            try await call.waitFor("open")
            let ended = try await call.closing()
            #expect(ended["code"] as? String == "UNAVAILABLE" && (ended["details"] as? String ?? "").contains("maximum lifetime"), "\(ended)")
            let audit = try await gateway.auditSearch(["--route", "grpcs", "--limit", "20"]) { $0.contains(#"\"closed_by\":\"lifetime\""#) }
            #expect(audit.contains(#"\"closed_by\":\"lifetime\""#), "\(audit)")
        }
    }
}

/// A fixture process that holds a stream open, writing what it sees to a file.
private struct Hold {
    let process = Process()
    let output: URL

    init(_ arguments: [String], output: URL) throws {
        self.output = output
        FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: ConsoleBrowserTests.python)
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: output)
        (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, handle, handle)
        try process.run()
        try handle.close()
    }

    var said: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    func waitFor(_ text: String) async throws {
        for _ in 0..<400 where !said.contains(text) { try await Task.sleep(for: .milliseconds(25)) }
        #expect(said.contains(text), "\(said)")
    }

    /// The JSON line it printed when the stream closed.
    func closing() async throws -> [String: Any] {
        for _ in 0..<400 where !said.contains("closed") { try await Task.sleep(for: .milliseconds(25)) }
        let line = try #require(said.split(separator: "\n").last { $0.hasPrefix("{") }, "\(said)")
        return try #require((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any], "\(line)")
    }

    func stop() { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
