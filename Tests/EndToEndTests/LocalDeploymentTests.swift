import Foundation
import TestSupport
import Testing

/// `portcullis up` with its private PostgreSQL, the path every new user takes, through what a
/// new user's machine does to it: an interrupted first start, a crash, a lock file left behind,
/// a port taken by someone else. Each time it must come up, and Ctrl-C must leave nothing running.
@Suite(.serialized) struct LocalDeploymentTests {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func comesUpAfterInterruptionsCrashesAndStaleState() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("up-private-\(UUID().uuidString)")
        let pg = state.appendingPathComponent("pg")
        try FileManager.default.createDirectory(at: pg, withIntermediateDirectories: true)
        // A data directory an interrupted initdb left behind: files, but no PG_VERSION.
        let cluster = try Self.clusterDirectory()
        try FileManager.default.createDirectory(atPath: cluster + "/data/base", withIntermediateDirectories: true)
        try "half".write(toFile: cluster + "/data/postgresql.conf", atomically: true, encoding: .utf8)
        try (cluster + "/data").write(to: pg.appendingPathComponent("location"), atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(atPath: cluster)
            try? FileManager.default.removeItem(at: state)
        }

        // 1. Interrupted while starting PostgreSQL: exit 130, and whatever it started is stopped.
        //    (Signalled on the first line: the phases after it can pass within the time a loaded
        //    machine takes to show the test a line; initdb and the first start take seconds.)
        var up = try start(state)
        _ = try await up.waitForLogLine(timeout: .seconds(180)) { $0.contains("portcullis up: initialising a PostgreSQL cluster") ? true : nil }
        up.signal(SIGINT)
        #expect(try await up.wait() == 130, "\(up.standardError)")
        #expect(up.standardError.contains("interrupted by SIGINT"), "\(up.standardError)")
        #expect(!Self.postgresRuns(cluster), "PostgreSQL still runs after the interrupted start")

        // 2. A cluster that exists but was never fully migrated comes up; then the process crashes.
        up = try start(state)
        try await waitUntilReady(up)
        up.signal(SIGKILL)
        _ = try await up.wait()
        #expect(Self.postgresRuns(cluster), "a crash cannot stop PostgreSQL")
        try await Self.eventually("the demo services to leave with their parent") { Self.processes(matching: state.path + "/demo-ports").isEmpty }

        // 3. After the crash: the running PostgreSQL is reused, and Ctrl-C stops everything.
        up = try start(state)
        try await waitUntilReady(up)
        #expect(up.standardError.contains("PostgreSQL is already running"), "\(up.standardError)")
        up.signal(SIGINT)
        #expect(try await up.wait() == 0, "\(up.standardError)")
        #expect(!Self.postgresRuns(cluster))
        #expect(Self.processes(matching: state.path).isEmpty)

        // 4. A lock file naming a live process that is no PostgreSQL (a reused pid after a reboot),
        //    and the recorded port taken by another program: a new port, the lock file removed.
        let recordedPort = try #require(
            Int(
                try String(contentsOf: pg.appendingPathComponent("port"), encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)))
        try "\(getpid())\n\(cluster)/data\n".write(toFile: cluster + "/data/postmaster.pid", atomically: true, encoding: .utf8)
        let squatter = try Self.listen(on: recordedPort)
        defer { close(squatter) }
        up = try start(state)
        try await waitUntilReady(up)
        #expect(up.standardError.contains("removing the lock file of a PostgreSQL that no longer runs (pid \(getpid()))"), "\(up.standardError)")
        let newPort = try String(contentsOf: pg.appendingPathComponent("port"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(newPort != "\(recordedPort)")
        up.signal(SIGTERM)
        #expect(try await up.wait() == 0, "\(up.standardError)")
        #expect(!Self.postgresRuns(cluster))
        #expect(Self.processes(matching: state.path).isEmpty)
    }

    @Test func aTakenGatewayPortIsNamedBeforeAnythingStarts() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("up-port-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let gateway = try FreePort.reserve()
        let squatter = try Self.listen(on: gateway)
        defer { close(squatter) }
        let up = try start(state, gateway: gateway)
        #expect(try await up.wait() == 1)
        #expect(up.standardError.contains("port \(gateway) on 127.0.0.1 is in use"), "\(up.standardError)")
        #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("pg/location").path))
    }

    /// Issue 24 on the demo: after quickstart step 3, `audit verify` holds the demo's trail to its
    /// anchor file and finds it intact; then a database writer without the master key forges a
    /// grant into the seed's chain, deletes another command's chain and turns the denial into an
    /// allow, and `audit verify` names each; a signing key of their own is never published.
    @Test func theDemoTrailNamesEachAttackOfADatabaseWriter() async throws {
        try #require(ConsoleBrowserTests.pythonHas("psycopg"), "psycopg is required (scripts/test installs it)")
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("up-audit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let port = try FreePort.reserve()
        let up = try start(state, gateway: port)
        try await waitUntilReady(up)
        let config = state.appendingPathComponent("portcullis.yaml").path
        let anchors = state.appendingPathComponent("audit-anchors.jsonl").path
        let ca = state.appendingPathComponent("certs/ca-bundle.crt").path
        let yaml = try String(contentsOfFile: config, encoding: .utf8)
        let databaseURL = try #require(yaml.firstMatch(of: /url: "(postgres:[^"]+)"/).map { String($0.1) })
        func verify() async throws -> (status: Int32, output: String) {
            let process = try PortcullisProcess(["audit", "verify", "--config", config, "--anchors", anchors])
            let status = try await process.wait()
            return (status, process.standardOutput + process.standardError)
        }
        func denial() async throws -> String {
            let login = try GatewayFixture.curl([
                "--cacert", ca, "https://localhost:\(port)/v1/login", "-H", "content-type: application/json",
                "-d", #"{"login":"dana","password":"demo-dispatcher-2026"}"#,
            ])
            let token = try #require(login.json["access_token"] as? String, "\(login.body)")
            let denied = try GatewayFixture.curl([
                "--cacert", ca, "https://billing.localhost:\(port)/v1/invoices", "-H", "authorization: Bearer \(token)",
            ])
            #expect(denied.status == 403)
            let requestID = try #require(denied.json["request_id"] as? String)
            try await Self.eventually("the denial's audit record") {
                guard let search = try? PortcullisProcess(["audit", "search", "--config", config, "--request-id", requestID]),
                    (try? await search.wait()) == 0
                else { return false }
                return search.standardOutput.contains(#""outcome":"deny""#)
            }
            return requestID
        }

        let requestID = try await denial()
        let clean = try await verify()
        #expect(clean.status == 0 && clean.output.contains("intact") && clean.output.contains("anchors held"), "\(clean.output)")

        // The seed's operator commands stopped cleanly, each start and stop anchored.
        let stopped = try String(contentsOfFile: anchors, encoding: .utf8).split(separator: "\n").compactMap { line -> String? in
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                object["anchor"] as? String == "writer.stop"
            else { return nil }
            return object["writer"] as? String
        }
        #expect(stopped.count >= 2, "the seed's commands anchor their stops")
        let (seed, other) = (try #require(stopped.first), try #require(stopped.last))
        _ = try AuditAdversaryTests.adversary(
            databaseURL: databaseURL, ["forge", "--writer", seed, "--principal", "User::\"mallory\"", "--action", "role.grant", "--before-stop"])
        _ = try AuditAdversaryTests.adversary(databaseURL: databaseURL, ["drop-writer", "--writer", other])
        let flipped = try AuditAdversaryTests.adversary(databaseURL: databaseURL, ["flip", "--request-id", requestID])
        let gatewayWriter = try #require(flipped["writer"] as? String)
        let injected = try AuditAdversaryTests.adversary(databaseURL: databaseURL, ["inject-key"])
        let kid = try #require(injected["kid"] as? String)
        _ = try await denial()  // the running writer goes on from the head it really wrote
        let published = try GatewayFixture.curl(["--cacert", ca, "https://localhost:\(port)/.well-known/jwks.json"])
        #expect(published.status == 200 && !published.body.contains(kid), "the injected key is never published: \(published.body)")

        let attacked = try await verify()
        print("audit verify on the demo after the attacks:\n\(attacked.output)")
        #expect(attacked.status == 1, "\(attacked.output)")
        let lines = attacked.output.split(separator: "\n")
        #expect(lines.contains { $0.contains("differs from its anchor: writer \(seed)") }, "the forged grant: \(attacked.output)")
        #expect(lines.contains { $0.contains("writer \(other)") && $0.contains("not in the database") }, "the deleted chain: \(attacked.output)")
        #expect(lines.contains { $0.contains("writer \(gatewayWriter)") && $0.contains("broken link") }, "the flipped denial: \(attacked.output)")
        #expect(!attacked.output.contains(kid), "\(attacked.output)")

        let cluster = try String(contentsOf: state.appendingPathComponent("pg/location"), encoding: .utf8)
        up.signal(SIGINT)
        #expect(try await up.wait() == 0, "\(up.standardError)")
        #expect(Self.processes(matching: state.path).isEmpty)
        if cluster.hasPrefix("/tmp/") { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: cluster).deletingLastPathComponent().path) }
    }

    private func start(_ state: URL, gateway: Int? = nil) throws -> PortcullisProcess {
        try PortcullisProcess([
            "up", "--state", state.path, "--gateway-port", "\(try gateway ?? FreePort.reserve())", "--identity-port", "\(try FreePort.reserve())",
            "--admin-port", "\(try FreePort.reserve())", "--seed", root.appendingPathComponent("deploy/demo/seed.yaml").path,
            "--policies", root.appendingPathComponent("policies").path,
            "--demo-executable", PortcullisProcess.siblingBinaryURL("logistics-demo").path,
        ])
    }

    private func waitUntilReady(_ up: PortcullisProcess) async throws {
        _ = try await up.waitForLogLine(timeout: .seconds(180)) { $0.contains("starting the identity service and the gateway") ? true : nil }
        guard let line = up.standardOutput.split(separator: "\n").first(where: { $0.contains("operations") }),
            let url = line.split(separator: " ").first(where: { $0.hasPrefix("http://") })
        else {
            throw PortcullisProcess.Failure(description: "no operations address in the walkthrough: \(up.standardOutput)")
        }
        try await Self.eventually("\(url) to answer 200") { (try? Curl.get(String(url)).status) == 200 || !up.isRunning }
        guard up.isRunning else { throw PortcullisProcess.Failure(description: "portcullis up stopped: \(up.standardError)") }
    }

    /// Where the cluster lives: for root under /tmp, where the `postgres` account can reach it.
    static func clusterDirectory() throws -> String {
        let path = "/tmp/portcullis-pg-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func postgresRuns(_ cluster: String) -> Bool {
        !processes(matching: cluster + "/data").filter { $0.contains("postgres") }.isEmpty
    }

    /// Command lines of running processes that contain `text`.
    static func processes(matching text: String) -> [String] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.compactMap { pid -> String? in
            guard Int(pid) != nil, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(text) ? line : nil
        }
    }

    static func eventually(_ what: String, within limit: Duration = .seconds(20), _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PortcullisProcess.Failure(description: "waited \(limit) for \(what)")
    }

    /// A listening socket on 127.0.0.1:`port`, as another program holding the port would have.
    static func listen(on port: Int) throws -> Int32 {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        // Connections the stopped PostgreSQL had on that port may still be in TIME_WAIT; they
        // do not keep a listener off it, but without SO_REUSEADDR they would fail the bind.
        var reuse: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard bound, Foundation.listen(socket, 1) == 0 else {
            close(socket)
            throw PortcullisProcess.Failure(description: "cannot listen on \(port)")
        }
        return socket
    }
}
