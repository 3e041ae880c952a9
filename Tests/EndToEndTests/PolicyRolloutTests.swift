import Database
import Foundation
import PostgresNIO
import TestSupport
import Testing

/// Three `portcullis serve` processes with `policies.source: database` against one PostgreSQL,
/// driven by `portcullis policy push|rollback` as an operator would: a refused push changes
/// nothing anywhere, a push and a rollback reach every gateway (the propagation time is printed,
/// not asserted), and a dropped LISTEN connection is resynchronised.
@Suite(.serialized) struct PolicyRolloutTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
              public: true
        """

    /// One running gateway: its HTTPS and admin ports.
    struct Replica {
        let process: PortcullisProcess
        let gatewayPort: Int
        let adminAddress: String

        func enforcedVersion() -> String? {
            guard let reply = try? Curl.get("http://\(adminAddress)/readyz"), reply.status == 200,
                let object = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
            else { return nil }
            return object["policy_version"] as? String
        }
    }

    /// Writes a policy directory (with the shipped schema) and returns its path.
    static func directory(_ fixture: GatewayFixture, _ name: String, _ files: [String: String]) throws -> String {
        let path = fixture.directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        for (file, text) in files.merging(["schema.cedarschema": PolicyFixtures.schema], uniquingKeysWith: { $1 }) {
            try text.write(to: path.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        return path.path
    }

    /// The hash a successful push or rollback printed last on its output line.
    static func hash(in output: String) throws -> String {
        guard let match = output.firstMatch(of: /\(([0-9a-f]{64})\)/) else { throw PortcullisProcess.Failure(description: "no hash in \(output)") }
        return String(match.1)
    }

    /// Runs a policy command, waits (up to 10 s) until every replica reports the hash it printed
    /// on /readyz, and prints how long each took: from the version's `created_at` (the start of
    /// the transaction that made it active, PostgreSQL's clock) to the `policy version enforced`
    /// log line of each gateway (its clock; same machine). Fails only at the 10 s limit.
    static func propagate(_ what: String, _ arguments: [String], to replicas: [Replica], fixture: GatewayFixture) async throws -> String {
        let started = ContinuousClock.now
        let output = try await fixture.cli(arguments)
        let took = ContinuousClock.now - started
        let expected = try hash(in: output)
        let deadline = ContinuousClock.now + .seconds(10)
        var pending = Set(replicas.indices)
        while !pending.isEmpty && ContinuousClock.now < deadline {
            pending = pending.filter { replicas[$0].enforcedVersion() != expected }
            if !pending.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(pending.isEmpty, "\(what): replicas \(pending.sorted()) still enforce another version after 10 s")

        let url = try DatabaseURL(try #require(fixture.environment["PORTCULLIS_DATABASE_URL"]))
        let committed = try await TestDatabase.withClient(url) { client in
            var epoch = 0.0
            for try await value in try await client.query(
                """
                SELECT extract(epoch FROM v.created_at)::float8 FROM policy_versions v JOIN policy_active a ON a.version = v.version
                """
            ).decode(Double.self) { epoch = value }
            return Date(timeIntervalSince1970: epoch)
        }
        let delays = try replicas.map { replica in
            (try enforcedAt(expected, in: replica.process).timeIntervalSince(committed)) * 1000
        }
        let figures = delays.map { String(format: "%.1f", $0) }.joined(separator: ", ")
        print(
            "policy \(what): \(replicas.count) gateways enforce \(expected.prefix(12)) within \(String(format: "%.1f", delays.max() ?? 0)) ms "
                + "of the transaction that activated it (each: \(figures) ms); the command itself took "
                + String(
                    format: "%.0f ms (process start-up and checks)",
                    Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15))
        return expected
    }

    /// When `process` logged that it enforces the version with this hash.
    static func enforcedAt(_ hash: String, in process: PortcullisProcess) throws -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for line in process.standardError.split(separator: "\n").reversed() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["message"] as? String == "policy version enforced", object["hash"] as? String == hash,
                let time = (object["time"] as? String).flatMap(formatter.date(from:))
            else { continue }
            return time
        }
        throw PortcullisProcess.Failure(description: "no 'policy version enforced' line for \(hash)")
    }

    /// The status each replica's gateway answers for `path`.
    static func statuses(_ path: String, _ replicas: [Replica], fixture: GatewayFixture) throws -> [Int] {
        try replicas.map { replica in
            try GatewayFixture.curl([
                "--cacert", "\(fixture.certs)/ca-bundle.crt", "--resolve", "shipments.localhost:\(replica.gatewayPort):127.0.0.1",
                "https://shipments.localhost:\(replica.gatewayPort)\(path)",
            ]).status
        }
    }

    @Test func pushesAndRollbacksReachEveryGatewayAndARefusedPushChangesNothing() async throws {
        try await GatewayFixture.run(
            policies: ["shipments.cedar": PolicyFixtures.opens("a"), "schema.cedarschema": PolicyFixtures.schema], routes: Self.routes,
            policySource: "database"
        ) { fixture in
            var replicas = [Replica(process: fixture.serve, gatewayPort: fixture.gatewayPort, adminAddress: fixture.adminAddress)]
            let config = fixture.directory.appendingPathComponent(GatewayFixture.configFileName).path
            for _ in 0..<2 {
                let process = try PortcullisProcess(
                    ["serve", "--config", config],
                    environment: fixture.environment.merging([
                        "PORTCULLIS_LOG_LEVEL": "notice", "PORTCULLIS_IDENTITY_LISTEN": "127.0.0.1:0",
                    ]) { $1 })
                replicas.append(
                    Replica(
                        process: process, gatewayPort: try await process.listenerPort("gateway listener started"),
                        adminAddress: try await process.adminAddress()))
            }
            defer { for replica in replicas.dropFirst() { replica.process.signal(SIGKILL) } }
            let history = try await fixture.cli(["policy", "history"])
            let initial = try #require(history.split(separator: "\t").dropFirst(2).first).description
            for replica in replicas {
                let deadline = ContinuousClock.now + .seconds(10)
                while replica.enforcedVersion() == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(25)) }
                #expect(replica.enforcedVersion()?.hasPrefix(initial) == true)
            }
            #expect(try Self.statuses("/a/1", replicas, fixture: fixture) == [200, 200, 200])
            #expect(try Self.statuses("/b/1", replicas, fixture: fixture) == [401, 401, 401])

            // A type error: refused with its location, no new version, every gateway unchanged.
            let broken = try Self.directory(
                fixture, "broken",
                [
                    "shipments.cedar": PolicyFixtures.opens("b"),
                    "typo.cedar": "@id(\"typo\")\npermit (principal, action, resource)\nwhen { context.http.path > 3 };\n",
                ])
            let refused = try PortcullisProcess(["policy", "push", broken, "-m", "typo"], environment: fixture.environment)
            #expect(try await refused.wait() == 1)
            #expect(refused.standardError.contains("\(broken)/typo.cedar:3:"), "\(refused.standardError)")
            #expect(try await fixture.cli(["policy", "history"]) == history)
            try await Task.sleep(for: .milliseconds(300))
            #expect(replicas.map { $0.enforcedVersion()?.hasPrefix(initial) == true } == [true, true, true])
            #expect(try Self.statuses("/b/1", replicas, fixture: fixture) == [401, 401, 401])

            // A push reaches all three; the audit record of a request names the store's hash.
            let second = try Self.directory(fixture, "second", ["shipments.cedar": PolicyFixtures.opens("b")])
            let pushed = try await Self.propagate("push", ["policy", "push", second, "-m", "open /b instead of /a"], to: replicas, fixture: fixture)
            #expect(try Self.statuses("/b/1", replicas, fixture: fixture) == [200, 200, 200])
            #expect(try Self.statuses("/a/1", replicas, fixture: fixture) == [401, 401, 401])
            let allowed = try GatewayFixture.curl([
                "--cacert", "\(fixture.certs)/ca-bundle.crt", "--resolve",
                "shipments.localhost:\(replicas[2].gatewayPort):127.0.0.1",
                "https://shipments.localhost:\(replicas[2].gatewayPort)/b/audited",
            ])
            let requestID = try #require(allowed.header("x-request-id"))
            var audit = ""
            for _ in 0..<100 where audit.isEmpty {
                audit = try await fixture.cli(["audit", "search", "--request-id", requestID])
                if audit.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(audit.contains(#""policy_version":"\#(pushed)""#), "\(audit)")

            // A rollback likewise.
            let restored = try await Self.propagate("rollback", ["policy", "rollback", "1", "-m", "back to /a"], to: replicas, fixture: fixture)
            #expect(restored.hasPrefix(initial))
            #expect(try Self.statuses("/a/1", replicas, fixture: fixture) == [200, 200, 200])
            #expect(try Self.statuses("/b/1", replicas, fixture: fixture) == [401, 401, 401])

            // Every gateway's LISTEN connection is killed; they reconnect, resync and follow the next push.
            let dropped = try await fixture.cli(["policy", "history"])  // the CLI works while they reconnect
            #expect(dropped.split(separator: "\n").count == 3)
            let url = try DatabaseURL(try #require(fixture.environment["PORTCULLIS_DATABASE_URL"]))
            let terminated = try await TestDatabase.withClient(url) { client in
                var count = 0
                for try await done in try await client.query(
                    """
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE '%LISTEN%portcullis_policies%'
                    """
                ).decode(Bool.self) where done { count += 1 }
                return count
            }
            #expect(terminated == 3)
            let third = try Self.directory(fixture, "third", ["shipments.cedar": PolicyFixtures.opens("c")])
            _ = try await Self.propagate(
                "push after LISTEN connections were dropped", ["policy", "push", third, "-m", "open /c"], to: replicas,
                fixture: fixture)
            #expect(try Self.statuses("/c/1", replicas, fixture: fixture) == [200, 200, 200])
        }
    }
}
