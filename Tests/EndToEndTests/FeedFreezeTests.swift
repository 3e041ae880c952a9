import Database
import Foundation
import PostgresNIO
import TestSupport
import Testing

/// A feed whose LISTEN connection stops answering without an error (its backend frozen with
/// SIGSTOP, as a half-open connection after a partition would be) fails closed within the
/// default bound of `database.feed_timeout` (5 s), exactly as when the connection is lost:
/// requests with credentials get 503 and `/readyz` fails. Once the backend runs again and the
/// database takes connections, the feed resynchronises, with the change made while it was
/// frozen, and the gateway serves again.
@Suite(.serialized) struct FeedFreezeTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
              public: true
        """

    /// The bound with the default configuration, plus what polling `/readyz` adds.
    static let bound = Duration.seconds(5)
    static let pollingAllowance = Duration.seconds(1)

    /// One case per feed.
    struct Case: Sendable, CustomTestStringConvertible {
        /// The LISTEN channel whose backend is frozen.
        let channel: String
        /// The `/readyz` check that must fail, and the message of the 503.
        let check: String
        let refusal: String
        /// A change made while the backend is frozen (its NOTIFY never arrives), as CLI arguments
        /// with `DIR` for a scratch directory, and the status of the credential's request once
        /// the feed has resynchronised.
        let change: [String]
        let statusAfterResync: Int

        var testDescription: String { channel }
    }

    static let cases = [
        Case(
            channel: "portcullis_identity", check: "identity", refusal: "revocation state is unavailable",
            change: ["user", "disable", "dana"], statusAfterResync: 401),
        Case(
            channel: "portcullis_policies", check: "policies", refusal: "the policy in force may be outdated",
            change: ["policy", "push", "DIR", "-m", "open /b instead of /a"], statusAfterResync: 403),
    ]

    @Test(arguments: cases)
    func aFrozenFeedFailsClosedWithinItsBoundAndRecovers(_ feed: Case) async throws {
        let (channel, check, refusal) = (feed.channel, feed.check, feed.refusal)
        try await GatewayFixture.run(
            policies: ["shipments.cedar": PolicyFixtures.opens("a"), "schema.cedarschema": PolicyFixtures.schema],
            routes: Self.routes, policySource: "database"
        ) { fixture in
            let token = try fixture.accessToken("dana", try await fixture.createUser("dana", roles: ["dispatcher"]))
            let credential = ["-H", "authorization: Bearer \(token)"]
            #expect(try fixture.curl("/a/1", credential).status == 200)
            let scratch = try PolicyRolloutTests.directory(fixture, "changed", ["shipments.cedar": PolicyFixtures.opens("b")])
            let database = try DatabaseURL(try #require(fixture.environment["PORTCULLIS_DATABASE_URL"])).database
            try await TestDatabase.withClient(try TestDatabase.serverURL()) { admin in
                let backend = try await Self.listeningBackend(admin, database: database, channel: channel)
                try #require(
                    kill(backend, SIGSTOP) == 0, "cannot stop PostgreSQL backend \(backend) (errno \(errno)): run as root or as the server's user")
                let frozen = ContinuousClock.now
                defer { kill(backend, SIGCONT) }
                do {
                    _ = try await fixture.cli(feed.change.map { $0 == "DIR" ? scratch : $0 })
                    // Then the gateway's database refuses new connections: the feed reconnects on a
                    // fresh backend within 100 ms of giving up on the frozen one (as it should), which
                    // would end the refusal before a client could observe it.
                    try await Self.allowConnections(admin, database: database, false)
                    var readiness = try Curl.get("http://\(fixture.adminAddress)/readyz")
                    while readiness.status == 200 && ContinuousClock.now - frozen < .seconds(15) {
                        try await Task.sleep(for: .milliseconds(50))
                        readiness = try Curl.get("http://\(fixture.adminAddress)/readyz")
                    }
                    let detection = ContinuousClock.now - frozen
                    print("frozen \(channel) LISTEN backend (pid \(backend)): /readyz failed after \(detection) (bound \(Self.bound))")
                    #expect(readiness.status == 503, "still ready \(detection) after the feed's backend was frozen")
                    #expect(detection <= Self.bound + Self.pollingAllowance)
                    let checks = (try? JSONSerialization.jsonObject(with: Data(readiness.body.utf8)) as? [String: Any])?["checks"] as? [String: Any]
                    #expect((checks?[check] as? String)?.contains("not synchronised") == true, "\(readiness.body)")
                    let refused = try fixture.curl("/a/1", credential)
                    #expect(refused.status == 503, "\(refused.body)")
                    #expect((refused.json["message"] as? String)?.contains(refusal) == true, "\(refused.body)")
                    #expect(refused.header("retry-after") != nil)
                } catch {
                    kill(backend, SIGCONT)
                    try? await Self.allowConnections(admin, database: database, true)
                    throw error
                }
                kill(backend, SIGCONT)
                try await Self.allowConnections(admin, database: database, true)
            }
            let resumed = ContinuousClock.now
            while try Curl.get("http://\(fixture.adminAddress)/readyz").status != 200 {
                guard ContinuousClock.now - resumed < .seconds(15) else {
                    Issue.record("not ready again 15 s after SIGCONT")
                    return
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            print("\(channel) feed synchronised again \(ContinuousClock.now - resumed) after SIGCONT")
            // The resync brought the change whose notification the frozen backend never delivered.
            #expect(try fixture.curl("/a/1", credential).status == feed.statusAfterResync)
        }
    }

    /// The backend holding the gateway's LISTEN on `channel`: exactly one.
    static func listeningBackend(_ admin: PostgresClient, database: String, channel: String) async throws -> pid_t {
        var found: [Int32] = []
        let rows = try await admin.query(
            """
            SELECT pid FROM pg_stat_activity WHERE datname = \(database) AND query LIKE \("LISTEN \"\(channel)\"%")
            """)
        for try await pid in rows.decode(Int32.self) { found.append(pid) }
        guard found.count == 1, let pid = found.first else {
            throw PortcullisProcess.Failure(description: "expected one backend listening on \(channel), found \(found)")
        }
        return pid
    }

    static func allowConnections(_ admin: PostgresClient, database: String, _ allowed: Bool) async throws {
        try await admin.query("ALTER DATABASE \(unescaped: database) WITH ALLOW_CONNECTIONS \(unescaped: allowed ? "true" : "false")")
    }
}
