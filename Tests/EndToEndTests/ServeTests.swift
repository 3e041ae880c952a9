import Foundation
import TestSupport
import Testing

/// `portcullis serve` and `portcullis migrate` as an operator runs them: a child process,
/// a real PostgreSQL, curl as the client.
@Suite struct ServeTests {
    func configFile(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func readyOnlyWithAReachableDatabaseAndStopsCleanlyOnSIGTERM() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let serve = try PortcullisProcess(
                ["serve"],
                environment: [
                    "PORTCULLIS_DATABASE_URL": url.connectionString, "PORTCULLIS_ADMIN_LISTEN": "127.0.0.1:0",
                ])
            let address = try await serve.adminAddress()
            #expect(try Curl.get("http://\(address)/healthz").status == 200)
            let ready = try Curl.get("http://\(address)/readyz")
            #expect(ready.status == 200)
            #expect(ready.body.contains(#""database":"ok""#))
            serve.signal(SIGTERM)
            #expect(try await serve.wait() == 0)
            #expect(serve.standardError.contains(#""message":"stopped""#))
        }
    }

    @Test func aProcessThatDiscardsAuditEventsNeverReportsReady() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let migrate = try PortcullisProcess(["migrate"], environment: ["PORTCULLIS_DATABASE_URL": url.connectionString])
            #expect(try await migrate.wait() == 0)
            let serve = try PortcullisProcess(
                ["serve", "--benchmark-without-audit"],
                environment: [
                    "PORTCULLIS_DATABASE_URL": url.connectionString, "PORTCULLIS_ADMIN_LISTEN": "127.0.0.1:0",
                    "PORTCULLIS_MASTER_KEY": String(repeating: "ab", count: 32), "PORTCULLIS_IDENTITY_LISTEN": "127.0.0.1:0",
                ])
            let address = try await serve.adminAddress()
            let ready = try Curl.get("http://\(address)/readyz")
            #expect(ready.status == 503)
            #expect(ready.body.contains("--benchmark-without-audit"), "\(ready.body)")
            #expect(serve.standardError.contains("audit events are discarded"))
            serve.signal(SIGTERM)
            #expect(try await serve.wait() == 0)
        }
    }

    @Test func notReadyWhileTheDatabaseIsUnreachable() async throws {
        let closedPort = try FreePort.reserve()
        let serve = try PortcullisProcess(
            ["serve"],
            environment: [
                "PORTCULLIS_DATABASE_URL": "postgres://nobody@127.0.0.1:\(closedPort)/nothing?sslmode=disable",
                "PORTCULLIS_ADMIN_LISTEN": "127.0.0.1:0",
            ])
        let address = try await serve.adminAddress()
        #expect(try Curl.get("http://\(address)/healthz").status == 200)
        let ready = try Curl.get("http://\(address)/readyz")
        #expect(ready.status == 503)
        #expect(ready.body.contains(#""status":"unavailable""#))
        serve.signal(SIGINT)
        #expect(try await serve.wait() == 0)
    }

    @Test func aListenerThatCannotBindStopsTheProcessWithTheReasonLogged() async throws {
        let first = try PortcullisProcess(
            ["serve"],
            environment: [
                "PORTCULLIS_DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing?sslmode=disable", "PORTCULLIS_ADMIN_LISTEN": "127.0.0.1:0",
            ])
        let taken = try await first.adminAddress()
        defer { first.signal(SIGKILL) }
        let second = try PortcullisProcess(
            ["serve"],
            environment: [
                "PORTCULLIS_DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing?sslmode=disable", "PORTCULLIS_ADMIN_LISTEN": taken,
            ])
        #expect(try await second.wait() == 1)
        let line = second.standardError.split(separator: "\n").first { $0.contains("stopped on an error") }
        let object = try line.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(object?["level"] as? String == "critical", "\(second.standardError)")
        #expect((object?["error"] as? String)?.contains("in use") == true, "\(second.standardError)")
    }

    @Test func aBadConfigurationFileIsRefusedWithItsLine() async throws {
        let path = try configFile("log:\n  level: info\n  colour: blue\n")
        let serve = try PortcullisProcess(["serve", "--config", path])
        #expect(try await serve.wait() == 2)
        #expect(serve.standardError.contains("\(path):3:3: unknown key 'log.colour'"))
    }

    @Test func missingDatabaseURLIsAStartupError() async throws {
        let serve = try PortcullisProcess(["serve"])
        #expect(try await serve.wait() == 2)
        #expect(serve.standardError.contains("database.url"))
    }

    @Test func concurrentMigrateRunsBothSucceed() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let environment = ["PORTCULLIS_DATABASE_URL": url.connectionString]
            let runs = try (0..<2).map { _ in try PortcullisProcess(["migrate"], environment: environment) }
            for run in runs {
                #expect(try await run.wait() == 0, "\(run.standardError)")
            }
            let again = try PortcullisProcess(["migrate"], environment: environment)
            #expect(try await again.wait() == 0)
            #expect(again.standardOutput.contains("database is up to date"))
        }
    }
}
