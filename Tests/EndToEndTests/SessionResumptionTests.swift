import Foundation
import TestSupport
import Testing

/// TLS session resumption against the running gateway, with `openssl s_client` saving and
/// resuming sessions (`-sess_out`, `-sess_in`): a resumed session carries the client certificate
/// of the handshake it resumes, unverified, so expiry must be checked on every request. An
/// expired certificate must get nothing, above all not a fresh certificate from the Workload API.
@Suite(.serialized) struct SessionResumptionTests {
    static let versions = ["-tls1_2", "-tls1_3"]

    @Test func aResumedSessionDoesNotOutliveItsClientCertificate() async throws {
        try await WorkloadEndToEndTests.run(ttl: "1h") { gateway in
            let credential = gateway.path("short")
            _ = try await gateway.cli([
                "cert", "issue", "--spiffe", "spiffe://\(GatewayFixture.trustDomain)/billing", "--ttl", "8s",
                "--out", credential, "--ca", gateway.certs,
            ])
            let issued = ContinuousClock.now
            let invoices = "GET /v1/invoices HTTP/1.1\r\nHost: billing.localhost\r\nConnection: close\r\n\r\n"
            for version in Self.versions {
                let full = try Self.exchange(
                    invoices, gateway, host: "billing.localhost", version: version, certificate: credential,
                    sessionOut: gateway.path("session\(version).pem"))
                #expect(full.status == 200 && !full.reused, "\(version) full handshake: \(full.output.suffix(400))")
                // While the certificate is valid, a resumed session works as before.
                let resumed = try Self.exchange(
                    invoices, gateway, host: "billing.localhost", version: version,
                    sessionIn: gateway.path("session\(version).pem"))
                #expect(resumed.reused, "\(version): the session was not resumed, so this test proves nothing: \(resumed.output.suffix(400))")
                #expect(resumed.status == 200, "\(version) resumed while valid: \(resumed.output.suffix(400))")
            }
            #expect(ContinuousClock.now - issued < .seconds(8), "the first connections took longer than the certificate lived")
            try await Task.sleep(until: issued + .seconds(10))

            let csr = try String(contentsOfFile: try gateway.makeCSR("resumed"), encoding: .utf8)
            let sign =
                "POST /v1/certs/sign HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pkcs10\r\n"
                + "Content-Length: \(csr.utf8.count)\r\nConnection: close\r\n\r\n" + csr
            for version in Self.versions {
                for (request, host) in [(invoices, "billing.localhost"), (sign, "localhost")] {
                    // With and without the certificate on the command line: either way the session
                    // carries the expired one.
                    for certificate in [nil, credential] {
                        let reply = try Self.exchange(
                            request, gateway, host: host, version: version, certificate: certificate,
                            sessionIn: gateway.path("session\(version).pem"))
                        #expect(reply.reused, "\(version): the session was not resumed: \(reply.output.suffix(400))")
                        #expect(reply.status == 401, "\(version) \(host) after expiry: \(reply.output.suffix(600))")
                        #expect(!reply.response.contains("BEGIN CERTIFICATE"), "an expired certificate obtained a new one over \(version)")
                    }
                }
            }
        }
    }

    /// One HTTP/1.1 exchange over `openssl s_client` (curl cannot save or resume a session), on a
    /// new connection that saves its session to `sessionOut` or resumes the one in `sessionIn`.
    static func exchange(
        _ request: String, _ gateway: GatewayFixture, host: String, version: String, certificate: String? = nil,
        sessionOut: String? = nil, sessionIn: String? = nil
    )
        throws -> (status: Int?, reused: Bool, response: String, output: String)
    {
        let requestFile = gateway.directory.appendingPathComponent("request-\(UUID().uuidString).http")
        try Data(request.utf8).write(to: requestFile)
        defer { try? FileManager.default.removeItem(at: requestFile) }
        var arguments = [
            "10", "openssl", "s_client", "-ign_eof", version, "-connect", "127.0.0.1:\(gateway.gatewayPort)",
            "-servername", host, "-CAfile", "\(gateway.certs)/ca-bundle.crt", "-verify_return_error",
        ]
        if let certificate { arguments += ["-cert", certificate + ".crt", "-key", certificate + ".key"] }
        if let sessionOut { arguments += ["-sess_out", sessionOut] }
        if let sessionIn { arguments += ["-sess_in", sessionIn] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: requestFile)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.readToEndAndClose()
        ChildExit.waitBlocking(process)
        let text = String(decoding: data, as: UTF8.self)
        // s_client prints the handshake (the server's certificate among it), then what the server sent.
        let response = text.range(of: "HTTP/1.1 ").map { String(text[$0.lowerBound...]) } ?? ""
        return (Int(response.dropFirst("HTTP/1.1 ".count).prefix(3)), text.contains("\nReused, "), response, text)
    }
}
