import Database
import Foundation
import PostgresNIO
import TestSupport
import Testing

@testable import Audit

/// The hardening issue's crash: `portcullis serve` killed with SIGKILL while requests stream
/// through it. With `audit.durability: before_response` every request that was answered has
/// its audit record (in PostgreSQL or the spool), and `audit verify` names the killed writer's
/// chain as one that ended without a clean stop.
@Suite struct AuditCrashTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
              public: true
        """

    @Test(.timeLimit(.minutes(3)))
    func everyAnsweredRequestSurvivesSIGKILLWithBeforeResponse() async throws {
        let policies = ["open.cedar": #"@id("everyone") permit (principal, action, resource);"#]
        try await GatewayFixture.run(policies: policies, routes: Self.routes, auditLines: ["durability: before_response"]) { gateway in
            // 16 requests at a time, each answer printed as "status request-id" (a curl config file
            // pairs every URL with its own output, so bodies do not mix into that list).
            let requests = gateway.directory.appendingPathComponent("requests.curlrc")
            try (0..<40_000).map { "url = \"https://shipments.localhost:\(gateway.gatewayPort)/v1/shipments/\($0)\"\noutput = \"/dev/null\"\n" }
                .joined().write(to: requests, atomically: true, encoding: .utf8)
            let load = try PortcullisProcess(
                [
                    "-s", "--cacert", gateway.directory.appendingPathComponent("certs/ca-bundle.crt").path, "--parallel", "--parallel-max", "16",
                    "-w", "%{http_code} %header{x-request-id}\\n", "-K", requests.path,
                ],
                executable: URL(fileURLWithPath: "/usr/bin/curl"))
            let deadline = ContinuousClock.now + .seconds(60)
            while load.standardOutput.split(separator: "\n").count < 300, ContinuousClock.now < deadline, load.isRunning {
                try await Task.sleep(for: .milliseconds(20))
            }
            gateway.serve.signal(SIGKILL)
            _ = try await gateway.serve.wait()
            _ = try await load.wait(timeout: .seconds(120))
            let answered = load.standardOutput.split(separator: "\n").compactMap { line -> String? in
                let parts = line.split(separator: " ")
                return parts.count == 2 && parts[0] == "200" ? String(parts[1]) : nil
            }
            #expect(answered.count >= 300, "too few answers before the kill: \(load.standardOutput.prefix(800)) \(load.standardError.prefix(800))")

            var recorded = Set<String>()
            let url = try DatabaseURL(try #require(gateway.environment["PORTCULLIS_DATABASE_URL"]))
            try await TestDatabase.withClient(url) { client in
                let rows = try await client.query("SELECT request_id FROM audit_events WHERE kind = 'access' AND request_id = ANY(\(answered))")
                for try await id in rows.decode(String.self) { recorded.insert(id) }
            }
            let spool = try AuditSpool(directory: gateway.directory.appendingPathComponent("spool"))
            for segment in spool.segments() {
                for batch in try spool.batches(in: segment).batches {
                    for record in batch { if let id = record.event.requestID { recorded.insert(id) } }
                }
            }
            let missing = answered.filter { !recorded.contains($0) }
            print("SIGKILL under load with before_response: \(answered.count) answered, \(missing.count) without an audit record")
            #expect(missing.isEmpty, "answered but not recorded: \(missing.prefix(10))")

            let report = try await gateway.cli([
                "audit", "verify", "--config", gateway.directory.appendingPathComponent(GatewayFixture.configFileName).path,
            ])
            #expect(report.contains("no clean stop"), "\(report)")
            #expect(report.contains("intact"), "\(report)")
        }
    }
}
