import Foundation
import TestSupport
import Testing

/// The gateway's own upstream client against real upstream processes: kept-alive connections
/// are reused, one the upstream drops is replaced, an upstream that never answers is a 504 and
/// one that refuses connections a 502, and large bodies stream both ways intact.
@Suite(.serialized) struct UpstreamClientTests {
    static let policies = [
        "logistics.cedar": """
        @id("dispatchers-use-everything")
        permit (principal in Role::"dispatcher", action, resource);
        """
    ]

    static func routes(refusingPort: Int) -> String {
        """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
            - id: slow
              hosts: [shipments.localhost]
              path: /slow
              upstream: UPSTREAM
              timeout: 1s
            - id: nowhere
              hosts: [shipments.localhost]
              path: /nowhere
              upstream: http://127.0.0.1:\(refusingPort)
        """
    }

    @Test func keptAliveConnectionsAreReusedAndOneTheUpstreamDropsIsReplaced() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes(refusingPort: try FreePort.reserve())) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let bearer = ["-H", "authorization: Bearer \(token)"]
            for path in ["/v1/first", "/v1/second", "/v1/dropped?close=1", "/v1/after-drop", "/v1/again"] {
                let reply = try gateway.curl(path, bearer)
                #expect(reply.status == 200, "\(path): \(reply.body)")
            }
            let ports = Dictionary(
                uniqueKeysWithValues: gateway.upstreamRequests().compactMap { record -> (String, Int)? in
                    guard let target = record["target"] as? String, let port = record["peer_port"] as? Int else { return nil }
                    return (target, port)
                })
            #expect(ports.count == 5, "\(ports)")
            // One pooled connection carries consecutive requests (each curl is a new client connection).
            #expect(ports["/v1/first"] == ports["/v1/second"])
            #expect(ports["/v1/second"] == ports["/v1/dropped?close=1"])
            // The upstream closed that connection after answering: the next request used a new one.
            #expect(ports["/v1/after-drop"] != ports["/v1/dropped?close=1"])
            #expect(ports["/v1/after-drop"] == ports["/v1/again"])
        }
    }

    @Test func anUpstreamThatNeverAnswersIsA504AndOneRefusingConnectionsA502() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes(refusingPort: try FreePort.reserve())) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let bearer = ["-H", "authorization: Bearer \(token)"]
            // The route allows 1 s for the response head; this upstream answers after 30 s.
            let slow = try gateway.curl("/slow/orders?sleep=30", bearer)
            #expect(slow.status == 504, "\(slow.body)")
            #expect(slow.json["error"] as? String == "upstream_timeout")
            #expect(slow.header("x-request-id") != nil)
            let refused = try gateway.curl("/nowhere/orders", bearer)
            #expect(refused.status == 502, "\(refused.body)")
            #expect(refused.json["error"] as? String == "bad_gateway")
            #expect(!refused.body.contains("connect"), "no internal error text reaches the client: \(refused.body)")
            #expect(try gateway.curl("/v1/still-fine", bearer).status == 200)

            let metrics = try GatewayFixture.curl(["http://\(gateway.adminAddress)/metrics"])
            let lines = Set(metrics.body.split(separator: "\n").map(String.init))
            #expect(lines.contains(#"portcullis_gateway_upstream_errors_total{route="slow",kind="timeout"} 1"#), "\(metrics.body)")
            #expect(lines.contains(#"portcullis_gateway_upstream_errors_total{route="nowhere",kind="unreachable"} 1"#))
        }
    }

    @Test func aRequestBeyondTheUpstreamConnectionLimitIsA503AtOnce() async throws {
        try await GatewayFixture.run(
            policies: Self.policies, routes: Self.routes(refusingPort: try FreePort.reserve()),
            limits: ["max_upstream_connections: 1"]
        ) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let bearer = ["-H", "authorization: Bearer \(token)"]
            // The only upstream connection is busy with this request for 3 s.
            let held = Self.inBackground { try gateway.curl("/v1/held?sleep=3", bearer) }
            try await Task.sleep(for: .seconds(1))
            let refused = try gateway.curl("/v1/refused", bearer)
            #expect(refused.status == 503, "\(refused.body)")
            #expect(refused.json["error"] as? String == "upstream_busy")
            #expect(refused.header("retry-after") == "1")
            #expect(refused.header("x-request-id") != nil)
            #expect(try await held.value.status == 200)
            // Its connection went back to the pool: the next request is served on it.
            #expect(try gateway.curl("/v1/after", bearer).status == 200)
            let targets = gateway.upstreamRequests().compactMap { $0["target"] as? String }
            #expect(!targets.contains("/v1/refused"), "the refused request never reached the upstream: \(targets)")

            let metrics = try GatewayFixture.curl(["http://\(gateway.adminAddress)/metrics"])
            #expect(metrics.body.contains(#"portcullis_gateway_upstream_errors_total{route="shipments",kind="saturated"} 1"#), "\(metrics.body)")
        }
    }

    /// Runs a blocking client call on a thread of its own, so the test's tasks keep running.
    static func inBackground<T: Sendable>(_ call: @escaping @Sendable () throws -> T) -> Task<T, any Error> {
        Task {
            try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread { continuation.resume(with: Result { try call() }) }
            }
        }
    }

    @Test func largeBodiesStreamBothWaysIntact() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes(refusingPort: try FreePort.reserve())) { gateway in
            let token = try gateway.accessToken("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let upload = gateway.directory.appendingPathComponent("upload.bin")
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<(6 << 20) / 8).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64, Array.init) }
            try Data(bytes).write(to: upload)
            let sent = try Self.sha256(of: upload)
            // HTTP/1.1 with Content-Length, then chunked, then HTTP/2 without Content-Length (the
            // body is the rest of the stream; it goes upstream chunked): the upstream sends the
            // same bytes back, chunked.
            let framings = [["--http1.1"], ["--http1.1", "-H", "transfer-encoding: chunked"], ["--http2", "-H", "transfer-encoding: chunked"]]
            for (index, framing) in framings.enumerated() {
                let download = gateway.directory.appendingPathComponent("download-\(index).bin")
                let status = try Self.curlStatus(
                    [
                        "--cacert", "\(gateway.certs)/ca-bundle.crt",
                        "--resolve", "shipments.localhost:\(gateway.gatewayPort):127.0.0.1",
                        "-H", "authorization: Bearer \(token)", "-H", "content-type: application/octet-stream",
                        "--data-binary", "@\(upload.path)", "-o", download.path,
                    ] + framing
                        + ["https://shipments.localhost:\(gateway.gatewayPort)/v1/mirror-\(index)?mirror=1"])
                #expect(status == 200)
                #expect(try Self.sha256(of: download) == sent, "the body that came back differs (\(framing))")
            }
            let received = gateway.upstreamRequests().filter { ($0["target"] as? String)?.contains("mirror=1") == true }
            #expect(received.count == 3)
            for record in received {
                #expect(record["body_bytes"] as? Int == bytes.count)
                #expect(record["body_sha256"] as? String == sent)
            }
        }
    }

    /// Runs curl, writing the body where `-o` says, and returns the HTTP status.
    static func curlStatus(_ arguments: [String]) throws -> Int {
        Int(try GatewayFixture.standardOutput(of: "/usr/bin/curl", ["-sS", "--max-time", "60", "-w", "%{http_code}"] + arguments)) ?? 0
    }

    static func sha256(of file: URL) throws -> String {
        String(try GatewayFixture.standardOutput(of: "/usr/bin/sha256sum", [file.path]).prefix { $0 != " " })
    }
}
