import Foundation
import TestSupport
import Testing

/// The smuggling and ambiguity shapes of `security-bypass-classes.md` sent byte for byte over
/// HTTP/1.1 and TLS with `openssl s_client`, where curl would normalize them: each is refused
/// with 400, or every request in it is decided on its own, and the upstream never sees a request
/// that policy would refuse.
@Suite(.serialized) struct WireSmugglingTests {
    struct Shape: CustomStringConvertible, Sendable {
        let description: String
        let bytes: String
        /// Status of each response on the connection, in order.
        let statuses: [Int]
    }

    static let host = "Host: shipments.localhost\r\n"

    static let shapes = [
        Shape(
            description: "Content-Length and Transfer-Encoding together",
            bytes: "POST /health HTTP/1.1\r\n\(host)Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                + "GET /admin HTTP/1.1\r\n\(host)Connection: close\r\n\r\n",
            statuses: [400]),
        Shape(
            description: "two different Content-Length values",
            bytes: "POST /health HTTP/1.1\r\n\(host)Content-Length: 3\r\nContent-Length: 30\r\nConnection: close\r\n\r\nabc", statuses: [400]),
        Shape(
            description: "chunked not the last transfer coding",
            bytes: "POST /health HTTP/1.1\r\n\(host)Transfer-Encoding: chunked, identity\r\nConnection: close\r\n\r\n0\r\n\r\n", statuses: [400]),
        Shape(
            description: "whitespace before the colon of Transfer-Encoding",
            bytes: "POST /health HTTP/1.1\r\n\(host)Transfer-Encoding : chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", statuses: [400]),
        Shape(
            description: "two Host fields",
            bytes: "GET /health HTTP/1.1\r\n\(host)Host: billing.localhost\r\nConnection: close\r\n\r\n", statuses: [400]),
        Shape(
            description: "absolute-form target for another host",
            bytes: "GET https://billing.localhost/v1/invoices HTTP/1.1\r\n\(host)Connection: close\r\n\r\n", statuses: [400]),
        Shape(
            description: "absolute-form target for another host, pipelined after an allowed request",
            bytes: "GET /health/before HTTP/1.1\r\n\(host)\r\nGET https://billing.localhost/v1/invoices HTTP/1.1\r\n\(host)Connection: close\r\n\r\n",
            statuses: [200, 400]),
        Shape(
            description: "absolute-form target for the request's own host is its origin-form",
            bytes: "GET HTTPS://Shipments.Localhost/health/absolute HTTP/1.1\r\n\(host)Connection: close\r\n\r\n", statuses: [200]),
        Shape(
            description: "a target with another scheme",
            bytes: "GET x:/admin/users HTTP/1.1\r\n\(host)Connection: close\r\n\r\n", statuses: [400]),
        Shape(
            description: "underscore spelling of a forwarding header",
            bytes: "GET /health HTTP/1.1\r\n\(host)X_Forwarded_For: 10.0.0.1\r\nConnection: close\r\n\r\n", statuses: [400]),
        Shape(
            description: "a request hidden after an empty chunked body is decided on its own",
            bytes: "GET /health/ping HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                + "GET /admin/users HTTP/1.1\r\n\(host)Connection: close\r\n\r\n",
            statuses: [200, 401]),
        Shape(
            description: "pipelined requests are answered in order, each decided on its own",
            bytes: "GET /health/one HTTP/1.1\r\n\(host)\r\nGET /admin/two HTTP/1.1\r\n\(host)\r\n"
                + "GET /health/three HTTP/1.1\r\n\(host)Connection: close\r\n\r\n",
            statuses: [200, 401, 200]),
    ]

    @Test func smugglingShapesAreRefusedOrDecidedOneByOne() async throws {
        try await GatewayFixture.run(policies: GatewayEndToEndTests.policies, routes: GatewayEndToEndTests.routes) { gateway in
            for shape in Self.shapes {
                let output = try Self.send(shape.bytes, to: gateway)
                #expect(Self.statuses(in: output) == shape.statuses, "\(shape): \(output.prefix(600))")
            }
            // Nothing policy refuses reached the upstream; what arrived was allowed, each once.
            let targets = gateway.upstreamRequests().compactMap { $0["target"] as? String }
            #expect(!targets.contains { $0.contains("admin") || $0.contains("invoices") }, "\(targets)")
            #expect(targets.sorted() == ["/health/absolute", "/health/before", "/health/one", "/health/ping", "/health/three"], "\(targets)")
        }
    }

    /// HTTP/2 `host` fields, sent with h2 (curl turns `-H Host:` into `:authority`): a `host`
    /// without `:authority` names the host but is never forwarded, so the upstream sees one
    /// `Host`, the gateway's; beside an `:authority` that differs it is refused (issue 18, item 7).
    @Test func http2HostFieldsAreRefusedOrNeverForwarded() async throws {
        try await GatewayFixture.run(policies: GatewayEndToEndTests.policies, routes: GatewayEndToEndTests.routes) { gateway in
            func send(_ fields: [[String]]) throws -> [String: Any] { try Self.sendHTTP2(fields, to: gateway) }
            let request = [[":method", "GET"], [":scheme", "https"]]
            let hostOnly = try send(request + [[":path", "/health/h2-host"], ["host", "shipments.localhost"]])
            #expect(hostOnly["status"] as? Int == 200, "\(hostOnly)")
            let received = try #require(gateway.upstreamRequests().last)
            #expect(received["target"] as? String == "/health/h2-host")
            let hosts = (received["headers"] as? [[String]] ?? []).filter { $0[0] == "host" }.map { $0[1] }
            #expect(hosts.count == 1 && hosts.first?.hasPrefix("127.0.0.1:") == true, "the upstream received Host \(hosts)")

            let differing = try send(
                request + [[":authority", "shipments.localhost"], [":path", "/health/h2-differ"], ["host", "billing.localhost"]])
            #expect(differing["status"] as? Int == 400, "\(differing)")
            let neither = try send(request + [[":path", "/health/h2-none"]])
            #expect(neither["status"] as? Int == 400, "\(neither)")
            #expect(gateway.upstreamRequests().count == 1)
        }
    }

    /// Request trailers (issue 23) reach the upstream, chunked, with the body they end; a trailer
    /// named like an identity, authentication or framing field does not (RFC 9110 §6.5.1).
    @Test func requestTrailersPassWithoutIdentityOrFramingFields() async throws {
        let policies = ["t.cedar": #"@id("posts") permit (principal, action == Action::"POST", resource == Route::"shipments-health");"#]
        try await GatewayFixture.run(policies: policies, routes: GatewayEndToEndTests.routes) { gateway in
            let trailers = [
                ["x-checksum", "sha256:abc"], ["x-portcullis-assertion", "forged"], ["x-forwarded-user", "mallory"],
                ["authorization", "Bearer stolen"], ["content-length", "99"],
            ]
            let reply = try Self.sendHTTP2(
                [[":method", "POST"], [":scheme", "https"], [":authority", "shipments.localhost"], [":path", "/health/trailers"]],
                body: "hello", trailers: trailers, to: gateway)
            #expect(reply["status"] as? Int == 200, "\(reply)")
            let received = try #require(gateway.upstreamRequests().last)
            #expect(received["body_bytes"] as? Int == 5)
            #expect(received["trailers"] as? [[String]] == [["x-checksum", "sha256:abc"]], "\(received)")
        }
    }

    /// Sends one HTTP/2 request with exactly these fields (`Fixtures/h2_request.py`) and returns
    /// what it reports: `status`, `reset`, `reset_after`, `body`.
    static func sendHTTP2(
        _ fields: [[String]], unfinishedBody: Bool = false, body: String? = nil, trailers: [[String]]? = nil, to gateway: GatewayFixture
    ) throws -> [String: Any] {
        var options = unfinishedBody ? ["--unfinished-body"] : []
        if let body { options += ["--body", body] }
        if let trailers { options += ["--trailers", String(decoding: try JSONSerialization.data(withJSONObject: trailers), as: UTF8.self)] }
        let output = try GatewayOperationsTests.python(
            "h2_request.py",
            [
                String(gateway.gatewayPort), "shipments.localhost",
                "\(gateway.certs)/ca-bundle.crt",
                String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self),
            ]
                + options)
        return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
    }

    /// Sends `bytes` on one TLS connection and returns everything the gateway answered before
    /// closing it (or within 10 s).
    static func send(_ bytes: String, to gateway: GatewayFixture) throws -> String {
        let request = gateway.directory.appendingPathComponent("raw-\(UUID().uuidString).http")
        try Data(bytes.utf8).write(to: request)
        defer { try? FileManager.default.removeItem(at: request) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = [
            "10", "openssl", "s_client", "-quiet", "-ign_eof", "-connect", "127.0.0.1:\(gateway.gatewayPort)",
            "-servername", "shipments.localhost", "-CAfile", "\(gateway.certs)/ca-bundle.crt", "-verify_return_error",
        ]
        process.standardInput = try FileHandle(forReadingFrom: request)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.readToEndAndClose()
        ChildExit.waitBlocking(process)
        return String(decoding: data, as: UTF8.self)
    }

    /// The status of every response, in order. A response's body does not end with a line
    /// break, so the next status line may follow it directly.
    static func statuses(in output: String) -> [Int] {
        output.components(separatedBy: "HTTP/1.1 ").dropFirst().compactMap { Int($0.prefix(3)) }
    }
}
