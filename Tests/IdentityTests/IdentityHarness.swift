import AccessModel
import Audit
import Cedar
import Composition
import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import Identity
import Logging
import NIOCore
import PostgresNIO
import TestSupport
import Tokens

/// A complete identity service on a fresh database, served on a loopback port, with the real
/// audit writer and revocation feed: tests talk to it over HTTP as clients would.
struct IdentityHarness: Sendable {
    let port: Int
    let parts: IdentityRuntime.Parts
    let database: Database
    let audit: AuditPipeline
    let url: DatabaseURL
    let masterKey: MasterKey

    var store: IdentityStore { parts.service.store }
    var service: IdentityService { parts.service }

    static let adminPolicy = """
        @id("admins")
        permit (principal in Role::"security-admin", action, resource == Route::"identity-admin");
        """

    /// `caDirectory` (a `portcullis ca init` directory) enables the Workload API.
    static func run(
        configure: (inout IdentitySettings) -> Void = { _ in }, policy: String = adminPolicy, caDirectory: String? = nil,
        _ body: @Sendable (IdentityHarness) async throws -> Void
    ) async throws {
        try await TestDatabase.withFreshDatabase { url in
            var logger = Logger(label: "identity-test")
            logger.logLevel = .critical
            var configuration = PortcullisConfiguration()
            configuration.database.url = url
            configuration.identity.listen = ListenAddress(host: "127.0.0.1", port: 0)
            // Argon2id at minimal cost: these tests are about the service around the hash (the
            // hasher's own cost is tested in TokensTests). At the INTERACTIVE cost, a test that
            // sends fifteen logins at once queued ~10 s of hashing on one thread while every
            // other suite ran beside it, and the last reply outlived the client's 15 s read timeout.
            configuration.identity.settings.passwordPolicy = PasswordPolicy(opsLimit: 1, memLimit: 8 * 1024 * 1024)
            configure(&configuration.identity.settings)
            configuration.identity.caDirectory = caDirectory
            // The workbench's "active version" is the policy store's, as on a fleet.
            configuration.policies.source = .database
            let database = Database(url: url, pool: .init(maximumConnections: 4), logger: logger)
            var auditConfiguration = AuditPipeline.Configuration(
                spoolDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("identity-spool-\(UUID().uuidString)"))
            auditConfiguration.flushInterval = .milliseconds(10)
            let audit = AuditPipeline(configuration: auditConfiguration, store: AuditStore(client: database.client, logger: logger), logger: logger)
            let masterKey = try MasterKey.generate()
            let policies = PolicySnapshot(authorizer: Authorizer(try PolicySet.parse(policy).get()), version: "test")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await database.run() }
                _ = try await Migrator(client: database.client, logger: logger).apply(try Migration.bundled())
                // Stopped before the pool (as `serve` does): a pool closing under an in-flight
                // audit write trips an assertion in postgres-nio.
                let auditWriter = Task { try await audit.run() }
                var feed: Task<Void, any Error>?
                // On success and on failure alike: the feed (a LISTEN connection) and the audit
                // writer stop before the pool does, as in `serve`.
                func stop() async {
                    feed?.cancel()
                    _ = await feed?.result
                    auditWriter.cancel()
                    _ = await auditWriter.result
                    group.cancelAll()
                }
                do {
                    let parts = try await IdentityRuntime.assemble(
                        configuration: configuration, database: database, masterKey: masterKey,
                        recorder: audit, logger: logger)
                    feed = Task { try await parts.feed.run() }
                    try await waitUntil("the revocation feed to synchronise", timeout: .seconds(30)) { parts.feed.snapshot.synchronized }
                    let app = IdentityRuntime.application(
                        configuration: configuration, service: parts.service, policies: { policies },
                        workload: parts.workload, logger: logger)
                    try await app.test(.live) { client in
                        try await body(
                            IdentityHarness(
                                port: client.port!, parts: parts, database: database, audit: audit, url: url,
                                masterKey: masterKey))
                    }
                } catch {
                    await stop()
                    throw error
                }
                await stop()
            }
            try? FileManager.default.removeItem(at: auditConfiguration.spoolDirectory)
        }
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw PortcullisProcess.Failure(description: "timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: HTTP

    struct Reply: Sendable {
        let status: Int
        let headers: HTTPFields
        let text: String

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
        func string(_ key: String) -> String? { json[key] as? String }
    }

    /// One request on its own connection, so tests can send many at once.
    func send(
        _ method: HTTPRequest.Method, _ path: String, body: String? = nil, contentType: String? = "application/json",
        bearer: String? = nil, headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let contentType, body != nil { headers[.contentType] = contentType }
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        let client = TestClient(host: "127.0.0.1", port: port)
        client.connect()
        let response: TestClient.Response
        do {
            response = try await client.execute(.init(path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }))
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return Reply(
            status: Int(response.status.code), headers: response.headers,
            text: response.body.map { String(buffer: $0) } ?? "")
    }

    func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    func login(_ login: String, _ password: String, extra: [String: Any] = [:]) async throws -> Reply {
        try await send(.post, "/v1/login", body: json(["login": login, "password": password].merging(extra) { $1 }))
    }

    func token(form: String, headers: HTTPFields = [:]) async throws -> Reply {
        try await send(.post, "/oauth2/token", body: form, contentType: "application/x-www-form-urlencoded", headers: headers)
    }

    // MARK: Fixtures

    /// Creates a user directly in the store (as an operator would with `portcullis user add`).
    @discardableResult
    func makeUser(_ login: String, password: String = "correct horse battery staple", roles: [String] = []) async throws -> User {
        for role in roles where try await store.role(role) == nil {
            _ = try await store.createRole(name: role, description: "", parents: [])
        }
        var user = try await store.createUser(
            login: login, email: "\(login)@logistics.example", displayName: login.capitalized,
            passwordHash: try await service.hashPassword(password))
        for role in roles { user = try await store.setUserMembership(login: login, .role, name: role, granted: true).after }
        return user
    }

    /// Logs in a fresh security admin and returns its access token.
    func adminToken() async throws -> String {
        try await makeUser("sec-admin", roles: ["security-admin"])
        let reply = try await login("sec-admin", "correct horse battery staple")
        guard let token = reply.string("access_token") else { throw PortcullisProcess.Failure(description: "admin login failed: \(reply.text)") }
        return token
    }

    /// Audit events of one action, once the writer has stored everything recorded so far.
    func auditEvents(action: String) async throws -> [(principal: String?, target: String?, outcome: String, details: String?)] {
        try await Self.waitUntil("audit events to be written") {
            let statistics = audit.statistics
            return statistics.queued == 0 && statistics.written + statistics.spooled >= statistics.accepted
        }
        let rows = try await database.client.query(
            """
            SELECT principal, target, outcome, details FROM audit_events WHERE action = \(action) ORDER BY occurred_at
            """)
        var events: [(String?, String?, String, String?)] = []
        for try await row in rows.decode((String?, String?, String, String?).self) { events.append(row) }
        return events
    }
}
