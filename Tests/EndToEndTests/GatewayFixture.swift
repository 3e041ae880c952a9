import Database
import Foundation
import PostgresNIO
import TestSupport
import Testing

/// A whole Portcullis deployment for gateway tests, built the way an operator builds one: the
/// CLI creates the CA, the gateway's server certificate and a workload certificate, migrates
/// a fresh database and creates accounts; `portcullis serve` runs the identity service and the
/// gateway in front of a small echo upstream; clients are curl and openssl.
struct GatewayFixture: Sendable {
    let directory: URL
    let environment: [String: String]
    let gatewayPort: Int
    let identityPort: Int
    let upstreamLog: URL
    let serve: PortcullisProcess
    /// The admin listener (`/metrics`, `/readyz`), as host:port.
    let adminAddress: String
    /// Port of the plain-HTTP redirect listener.
    let redirectPort: Int
    /// Ports of the `logistics-demo` services by name, when the routes use them.
    let demoPorts: [String: Int]

    static let trustDomain = "logistics.internal"
    /// The sign-in host every fixture gateway is configured with.
    static let signInHost = "auth.localhost"
    static let configFileName = "config.yaml"

    /// - Parameters:
    ///   - limits: `key: value` lines for `gateway.limits`.
    ///   - gatewayLines: further `key: value` lines for the `gateway` section.
    ///   - identity: lines added to the `identity:` section, with `CERTS` standing for the CA
    ///     directory; `routes` may name the identity API's address as `IDENTITY`.
    ///   - auditLines: further `key: value` lines for the `audit` section.
    ///   - sections: further top-level sections (YAML at column 0), e.g. `federation:`.
    ///   - policySource: `policies.source`; with `database`, `policies` (which then needs a
    ///     `schema.cedarschema`) is pushed as version 1 before `serve` starts.
    ///   - routes: the routing table; `UPSTREAM` and `WSUPSTREAM` stand for the echo service and
    ///     `LOGISTICS_SHIPMENTS`, `LOGISTICS_FLEET`, `LOGISTICS_BILLING`, `LOGISTICS_OPS_CONSOLE` for
    ///     the `logistics-demo` upstreams (started only when named), which verify the gateway's
    ///     assertions against the identity service's JWKS.
    static func run(
        policies: [String: String], routes: String, limits: [String] = [], gatewayLines: [String] = [], identity: String = "",
        policySource: String = "files", auditLines: [String] = [], sections: String = "",
        _ body: @Sendable (GatewayFixture) async throws -> Void
    ) async throws {
        try await TestDatabase.withFreshDatabase { url in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("policies"), withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let masterKey = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            let environment = [
                "PORTCULLIS_DATABASE_URL": url.connectionString, "PORTCULLIS_MASTER_KEY": masterKey,
                "PORTCULLIS_LOG_LEVEL": "warning",
            ]
            let certs = directory.appendingPathComponent("certs").path
            for arguments in [
                ["migrate"],
                ["ca", "init", "--trust-domain", trustDomain, "--out", certs],
                [
                    "cert", "issue", "--spiffe", "spiffe://\(trustDomain)/gateway", "--server", "--dns", "localhost",
                    "--dns", "shipments.localhost", "--dns", "billing.localhost", "--dns", "fleet.localhost", "--dns", "ops.localhost", "--dns",
                    "grpc.localhost", "--dns", "grpcs.localhost", "--dns", signInHost,
                    "--ttl", "24h", "--out", "\(certs)/gateway", "--ca", certs,
                ],
                ["cert", "issue", "--spiffe", "spiffe://\(trustDomain)/billing", "--out", "\(certs)/billing", "--ca", certs],
                [
                    "cert", "issue", "--spiffe", "spiffe://\(trustDomain)/grpc-upstream", "--server", "--dns", "localhost", "--out",
                    "\(certs)/grpc-upstream", "--ca", certs,
                ],
            ] {
                _ = try await cli(arguments, environment: environment)
            }
            for (name, text) in policies {
                try text.write(to: directory.appendingPathComponent("policies/\(name)"), atomically: true, encoding: .utf8)
            }
            if policySource == "database" {
                _ = try await cli(["policy", "push", directory.appendingPathComponent("policies").path, "-m", "initial"], environment: environment)
            }

            let identityAddress = "127.0.0.1:\(try FreePort.reserve())"
            var demo: PortcullisProcess?
            // SIGKILL, as for the echo service: no graceful stop is needed from a test upstream.
            defer { demo?.signal(SIGKILL) }
            var demoPorts: [String: Int] = [:]
            if routes.contains("LOGISTICS_") {
                let portsFile = directory.appendingPathComponent("demo-ports.json")
                demo = try PortcullisProcess(
                    [
                        "--all", "--ports-file", portsFile.path, "--log-level", "warning",
                        "--jwks-url", "http://\(identityAddress)/.well-known/jwks.json",
                    ],
                    executable: PortcullisProcess.siblingBinaryURL("logistics-demo"))
                for _ in 0..<400 where demoPorts.isEmpty {
                    if let data = try? Data(contentsOf: portsFile) {
                        demoPorts = (try JSONSerialization.jsonObject(with: data) as? [String: Int]) ?? [:]
                    } else {
                        try await Task.sleep(for: .milliseconds(25))
                    }
                }
                guard demoPorts.count == 4 else {
                    throw PortcullisProcess.Failure(description: "logistics-demo did not start: \(demo?.standardError ?? "")")
                }
            }

            let upstreamLog = directory.appendingPathComponent("upstream.log")
            let portFile = directory.appendingPathComponent("upstream.port")
            let upstream = Process()
            upstream.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"] ?? "/usr/bin/python3")
            upstream.arguments = [
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/echo_upstream.py").path,
                portFile.path, upstreamLog.path,
            ]
            // Not our pipes: a child holding the test runner's stdout would keep `swift test` waiting.
            upstream.standardOutput = FileHandle.nullDevice
            upstream.standardError = FileHandle.nullDevice
            upstream.standardInput = FileHandle.nullDevice
            try upstream.run()
            // SIGKILL: the child inherits the runner's signal mask, in which SIGTERM may be blocked.
            defer { kill(upstream.processIdentifier, SIGKILL) }
            var ports: [Substring] = []
            for _ in 0..<400 where ports.count < 2 {
                ports = ((try? String(contentsOf: portFile, encoding: .utf8)) ?? "").split(separator: " ")
                if ports.count < 2 { try await Task.sleep(for: .milliseconds(25)) }
            }
            guard ports.count == 2 else { throw PortcullisProcess.Failure(description: "the echo upstream did not start") }
            let upstreamPort = ports[0]
            let webSocketPort = ports[1]

            // A grpcio server (`Fixtures/grpc_upstream.py`) for routes naming GRPC_H2C (plain
            // HTTP/2) or GRPC_H2 (HTTP/2 over TLS with a certificate of the test CA).
            var grpcPorts: [Substring] = []
            let grpcUpstream = Process()
            defer { if grpcUpstream.isRunning { kill(grpcUpstream.processIdentifier, SIGKILL) } }
            if routes.contains("GRPC_H2") {
                let grpcPortFile = directory.appendingPathComponent("grpc-upstream.port")
                grpcUpstream.executableURL = upstream.executableURL
                grpcUpstream.arguments = [
                    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/grpc_upstream.py").path,
                    grpcPortFile.path, "--tls-cert", "\(certs)/grpc-upstream.crt", "--tls-key", "\(certs)/grpc-upstream.key",
                ]
                (grpcUpstream.standardOutput, grpcUpstream.standardError, grpcUpstream.standardInput) =
                    (FileHandle.nullDevice, FileHandle.nullDevice, FileHandle.nullDevice)
                try grpcUpstream.run()
                for _ in 0..<400 where grpcPorts.count < 2 {
                    grpcPorts = ((try? String(contentsOf: grpcPortFile, encoding: .utf8)) ?? "").split(separator: " ")
                    if grpcPorts.count < 2 { try await Task.sleep(for: .milliseconds(25)) }
                }
                guard grpcPorts.count == 2 else { throw PortcullisProcess.Failure(description: "the gRPC upstream did not start") }
            }

            let routeTable = demoPorts.reduce(routes) { text, demo in
                text.replacingOccurrences(
                    of: "LOGISTICS_" + demo.key.uppercased().replacingOccurrences(of: "-", with: "_"),
                    with: "http://127.0.0.1:\(demo.value)")
            }
            let identityLines = identity.split(separator: "\n").map { "  " + $0.replacingOccurrences(of: "CERTS", with: certs) }
            let config = """
                identity:
                  listen: \(identityAddress)
                \(identityLines.joined(separator: "\n"))
                admin:
                  listen: 127.0.0.1:0
                audit:
                  spool_directory: \(directory.path)/spool
                  \(auditLines.joined(separator: "\n  "))
                \(sections)
                policies:
                  source: \(policySource)
                  directory: \(directory.path)/policies
                gateway:
                  listen: 127.0.0.1:0
                  certificate: \(certs)/gateway.crt
                  key: \(certs)/gateway.key
                  client_ca: \(certs)/ca-bundle.crt
                  trust_domain: \(trustDomain)
                  redirect_listen: 127.0.0.1:0
                  sign_in_host: \(signInHost)
                  \(gatewayLines.joined(separator: "\n  "))
                  limits:
                    \(limits.isEmpty ? "{}" : limits.joined(separator: "\n    "))
                  routes:
                \(routeTable.replacingOccurrences(of: "WSUPSTREAM", with: "http://127.0.0.1:\(webSocketPort)")
                    .replacingOccurrences(of: "GRPC_H2C", with: "http://127.0.0.1:\(grpcPorts.first ?? "0")")
                    .replacingOccurrences(of: "GRPC_H2", with: "https://localhost:\(grpcPorts.last ?? "0")")
                    .replacingOccurrences(of: "CERTS", with: certs)
                    .replacingOccurrences(of: "UPSTREAM", with: "http://127.0.0.1:\(upstreamPort)")
                    .replacingOccurrences(of: "IDENTITY", with: "http://\(identityAddress)"))
                """
            let configFile = directory.appendingPathComponent(configFileName)
            try config.write(to: configFile, atomically: true, encoding: .utf8)
            let serve = try PortcullisProcess(
                ["serve", "--config", configFile.path], environment: environment.merging(["PORTCULLIS_LOG_LEVEL": "notice"]) { $1 })
            let gatewayPort = try await serve.listenerPort("gateway listener started")
            let identityPort = try await serve.listenerPort("identity listener started")
            let redirectPort = try await serve.listenerPort("redirect listener started")
            // Credentials are refused (503) until the revocation feed has synchronised: wait for readiness.
            let admin = try await serve.adminAddress()
            var attempts = 0
            while (try? Curl.get("http://\(admin)/readyz").status) != 200 {
                attempts += 1
                guard attempts < 200 else { throw PortcullisProcess.Failure(description: "serve never became ready: \(serve.standardError)") }
                try await Task.sleep(for: .milliseconds(25))
            }
            let fixture = GatewayFixture(
                directory: directory, environment: environment, gatewayPort: gatewayPort, identityPort: identityPort,
                upstreamLog: upstreamLog, serve: serve, adminAddress: admin, redirectPort: redirectPort,
                demoPorts: demoPorts)
            do {
                try await body(fixture)
            } catch {
                serve.signal(SIGTERM)
                _ = try? await serve.wait()
                throw error
            }
            serve.signal(SIGTERM)
            _ = try await serve.wait()
        }
    }

    /// A second `portcullis serve` on the same database and keys (its own listeners and audit
    /// spool): another gateway replica, as a deployment runs several. Stopped after `body`.
    func withReplica(_ body: (_ gatewayPort: Int) async throws -> Void) async throws {
        let original = try String(contentsOf: directory.appendingPathComponent(Self.configFileName), encoding: .utf8)
        let identityLine = try #require(original.split(separator: "\n").first { $0.hasPrefix("  listen: 127.0.0.1:") })
        let config = original.replacingOccurrences(of: String(identityLine), with: "  listen: 127.0.0.1:0")
            .replacingOccurrences(of: "\(directory.path)/spool", with: "\(directory.path)/spool-replica")
        let file = directory.appendingPathComponent("replica.yaml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let replica = try PortcullisProcess(
            ["serve", "--config", file.path], environment: environment.merging(["PORTCULLIS_LOG_LEVEL": "notice"]) { $1 })
        defer { replica.signal(SIGKILL) }
        let port = try await replica.listenerPort("gateway listener started")
        let admin = try await replica.adminAddress()
        var attempts = 0
        while (try? Curl.get("http://\(admin)/readyz").status) != 200 {
            attempts += 1
            guard attempts < 400 else { throw PortcullisProcess.Failure(description: "the replica never became ready: \(replica.standardError)") }
            try await Task.sleep(for: .milliseconds(25))
        }
        try await body(port)
        replica.signal(SIGTERM)
        _ = try await replica.wait()
    }

    /// Runs a `portcullis` command to completion; fails with its stderr when it exits non-zero.
    static func cli(_ arguments: [String], environment: [String: String]) async throws -> String {
        let process = try PortcullisProcess(arguments, environment: environment)
        let status = try await process.wait()
        guard status == 0 else {
            throw PortcullisProcess.Failure(description: "portcullis \(arguments.joined(separator: " ")) exited \(status): \(process.standardError)")
        }
        return process.standardOutput
    }

    func cli(_ arguments: [String]) async throws -> String { try await Self.cli(arguments, environment: environment) }

    /// `portcullis audit search` with `filters`, asked again for up to 5 s until `done` holds: the
    /// audit writer stores events in batches, so a record may follow the answer it describes.
    func auditSearch(_ filters: [String], until done: (String) -> Bool) async throws -> String {
        var found = ""
        for _ in 0..<50 {
            found = try await cli(["audit", "search"] + filters)
            if done(found) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return found
    }

    /// The claims of a gateway assertion as PyJWT (a client nobody here wrote) reads them after
    /// verifying it against the identity service's published JWKS, for `audience`.
    func pyjwtClaims(_ assertion: String, audience: String) throws -> [String: Any] {
        let jwks = try Self.curl(["http://127.0.0.1:\(identityPort)/.well-known/jwks.json"])
        let script = """
            import json, sys, jwt
            keys = jwt.PyJWKSet.from_json(sys.argv[2])
            header = jwt.get_unverified_header(sys.argv[1])
            key = next(k for k in keys.keys if k.key_id == header["kid"])
            claims = jwt.decode(sys.argv[1], key=key, algorithms=["EdDSA"], audience=sys.argv[3], issuer="portcullis-gateway")
            print(json.dumps(claims, sort_keys=True))
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"] ?? "/usr/bin/python3")
        python.arguments = ["-c", script, assertion, jwks.body, audience]
        let output = Pipe()
        python.standardOutput = output
        try python.run()
        let data = output.readToEndAndClose()
        let status = ChildExit.waitBlocking(python)
        guard status == 0, let claims = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw PortcullisProcess.Failure(description: "PyJWT exited \(status) on the assertion")
        }
        return claims
    }

    var certs: String { directory.appendingPathComponent("certs").path }
    /// The configuration `serve` runs with.
    var configFile: String { directory.appendingPathComponent(Self.configFileName).path }
    /// Its audit anchor file (the default: beside the spool directory).
    var anchorFile: String { directory.appendingPathComponent("audit-anchors.jsonl").path }

    /// Runs `statement` on the gateway's database, as a database writer (the audit adversary) would.
    func sql(_ statement: String) async throws {
        let url = try #require(environment["PORTCULLIS_DATABASE_URL"].flatMap { try? DatabaseURL($0) })
        try await TestDatabase.withClient(url) { client in _ = try await client.query(PostgresQuery(unsafeSQL: statement)) }
    }

    // MARK: Clients

    struct Reply {
        let status: Int
        let headers: [(name: String, value: String)]
        let body: String

        func header(_ name: String) -> String? { headers.first { $0.name == name.lowercased() }?.value }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// curl against the gateway as `host` (it and the sign-in host resolved to loopback), trusting
    /// the internal CA.
    /// `port`: another gateway's (a replica's) instead of this one's.
    func curl(_ path: String, _ extra: [String] = [], host: String = "shipments.localhost", port: Int? = nil) throws -> Reply {
        let port = port ?? gatewayPort
        return try Self.curl(
            ["--cacert", "\(certs)/ca-bundle.crt", "--resolve", "\(host):\(port):127.0.0.1"]
                + (host == Self.signInHost ? [] : ["--resolve", "\(Self.signInHost):\(port):127.0.0.1"]) + extra
                + ["https://\(host):\(port)\(path)"])
    }

    /// A browser's cookie jar and the session it holds on one route host.
    struct BrowserSession {
        /// curl options that read and write the jar and ask for HTML, as a browser navigating.
        let options: [String]
        /// The route host's `Set-Cookie` field for its session cookie.
        let setCookie: String
        /// That cookie's value.
        var cookie: String { String(setCookie.dropFirst("__Host-portcullis=".count).prefix { $0 != ";" }) }
        /// The sign-in form's CSRF token (the sign-in host's cookie).
        let csrf: String
    }

    /// Signs in the way a browser does: the sign-in form on the sign-in host, then single sign-on
    /// to `host` (a one-time code redeemed there). Each hop is checked.
    func signIn(_ login: String, _ password: String, on host: String = "shipments.localhost") throws -> BrowserSession {
        let jar = directory.appendingPathComponent("cookies-\(login)-\(UUID().uuidString).txt").path
        let browser = ["-b", jar, "-c", jar, "-H", "accept: text/html"]
        let form = try curl("/.portcullis/login", browser, host: Self.signInHost)
        let csrf = try #require(form.body.firstMatch(of: /name="csrf" value="([^"]+)"/).map { String($0.1) }, "\(form.status) \(form.body)")
        let signOn = "/.portcullis/sso?host=\(host)&next=%2F"
        let signedIn = try curl(
            "/.portcullis/login",
            browser + [
                "--data-urlencode", "login=\(login)", "--data-urlencode", "password=\(password)", "--data-urlencode", "csrf=\(csrf)",
                "--data-urlencode", "next=\(signOn)",
            ], host: Self.signInHost)
        #expect(signedIn.status == 303 && signedIn.header("location") == signOn, "\(signedIn.status) \(signedIn.body)")
        let code = try curl(signOn, browser, host: Self.signInHost)
        let callback = try #require(code.header("location"), "\(code.status) \(code.body)")
        #expect(callback.hasPrefix("https://\(host):\(gatewayPort)/.portcullis/sso/callback?code="), "\(callback)")
        let redeemed = try curl(String(callback.dropFirst("https://\(host):\(gatewayPort)".count)), browser, host: host)
        let cookie = try #require(
            redeemed.headers.first { $0.name == "set-cookie" && $0.value.hasPrefix("__Host-portcullis=") }?.value,
            "\(redeemed.status) \(redeemed.body)")
        return BrowserSession(options: browser, setCookie: cookie, csrf: csrf)
    }

    static func curl(_ arguments: [String]) throws -> Reply {
        let id = UUID().uuidString
        let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(id).body")
        let headerFile = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(id).headers")
        defer {
            try? FileManager.default.removeItem(at: bodyFile)
            try? FileManager.default.removeItem(at: headerFile)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "--max-time", "20", "-o", bodyFile.path, "-D", headerFile.path] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let processStatus = ChildExit.waitBlocking(process)
        let headerText = (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
        let lines = headerText.split(separator: "\r\n").map(String.init)
        guard processStatus == 0, let statusLine = lines.last(where: { $0.hasPrefix("HTTP/") }),
            let status = Int(statusLine.split(separator: " ")[1])
        else {
            return Reply(status: 0, headers: [], body: "curl exit \(processStatus)")
        }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("HTTP/") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return Reply(status: status, headers: headers, body: (try? String(contentsOf: bodyFile, encoding: .utf8)) ?? "")
    }

    /// Runs a program to completion with null stdin and stderr and returns its standard output.
    static func standardOutput(of executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.readToEndAndClose()
        ChildExit.waitBlocking(process)
        return String(decoding: data, as: UTF8.self)
    }

    /// Logs `login` in at the identity service and returns the access token.
    func accessToken(_ login: String, _ password: String) throws -> String {
        let reply = try Self.curl([
            "-H", "content-type: application/json", "-d", #"{"login":"\#(login)","password":"\#(password)"}"#,
            "http://127.0.0.1:\(identityPort)/v1/login",
        ])
        guard let token = reply.json["access_token"] as? String else {
            throw PortcullisProcess.Failure(description: "login of \(login) failed: \(reply.status) \(reply.body)")
        }
        return token
    }

    /// Creates a user with the CLI and a password of the test's choosing (`--password-stdin`, so
    /// not a one-time password), and returns it.
    func createUser(_ login: String, roles: [String]) async throws -> String {
        for role in roles { _ = try? await cli(["role", "add", role]) }
        let password = "pw-" + UUID().uuidString
        let arguments = ["user", "add", login, "--email", "\(login)@logistics.example", "--password-stdin"] + roles.flatMap { ["--role", $0] }
        let process = try PortcullisProcess(
            ["-c", #"printf '%s\n' "$PASSWORD" | "$PORTCULLIS" "$@""#, "create-user"] + arguments,
            environment: environment.merging(["PASSWORD": password, "PORTCULLIS": PortcullisProcess.binaryURL.path]) { $1 },
            executable: URL(fileURLWithPath: "/bin/bash"))
        guard try await process.wait() == 0 else {
            throw PortcullisProcess.Failure(description: "user add \(login) failed: \(process.standardError)")
        }
        return password
    }

    /// Every request the upstream received, oldest first.
    func upstreamRequests() -> [[String: Any]] {
        let text = (try? String(contentsOf: upstreamLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

extension PortcullisProcess {
    /// The port of a listener, read from its `… listener started` log line.
    func listenerPort(_ message: String) async throws -> Int {
        try await waitForLogLine { line in
            guard line.contains(message), let data = line.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let address = object["address"] as? String, let port = address.split(separator: ":").last
            else { return nil }
            return Int(port)
        }
    }
}
