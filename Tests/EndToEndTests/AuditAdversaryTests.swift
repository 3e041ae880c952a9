import Foundation
import TestSupport
import Testing

/// The adversary of issue 24: someone who can write PostgreSQL (a DBA, or whoever holds the
/// database password) but holds neither the master key nor the anchor file. Scripted in SQL by
/// `Fixtures/audit_adversary.py`, whose chain hash is an independent re-implementation (it must
/// match every stored hash first), against a running gateway and operator commands.
@Suite(.serialized) struct AuditAdversaryTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/audit_adversary.py").path

    static func adversary(_ gateway: GatewayFixture, _ arguments: [String]) throws -> [String: Any] {
        try adversary(databaseURL: gateway.environment["PORTCULLIS_DATABASE_URL"] ?? "", arguments)
    }

    static func adversary(databaseURL: String, _ arguments: [String]) throws -> [String: Any] {
        let output = try GatewayFixture.standardOutput(of: ConsoleBrowserTests.python, [script, databaseURL] + arguments)
        return try #require((try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any], "\(output)")
    }

    /// `portcullis audit verify` with the gateway's configuration, held to its anchor file.
    static func verify(_ gateway: GatewayFixture) async throws -> (status: Int32, output: String) {
        let process = try PortcullisProcess(
            ["audit", "verify", "--anchors", gateway.anchorFile],
            environment: gateway.environment.merging(["PORTCULLIS_CONFIG": gateway.configFile]) { $1 })
        let status = try await process.wait()
        return (status, process.standardOutput + process.standardError)
    }

    @Test func anAdversaryWithTheDatabaseButNotTheMasterKeyIsNamed() async throws {
        try #require(ConsoleBrowserTests.pythonHas("psycopg"), "psycopg is required (scripts/test installs it)")
        try await GatewayFixture.run(
            policies: SingleSignOnTests.policies, routes: SingleSignOnTests.routes, auditLines: ["checkpoint_interval: 1s"]
        ) { gateway in
            // Operator commands with the gateway's configuration: each is a writer of its own,
            // anchored in the same file.
            let operatorEnvironment = gateway.environment.merging(["PORTCULLIS_CONFIG": gateway.configFile]) { $1 }
            for role in ["auditor", "dispatcher", "finance"] {
                _ = try await GatewayFixture.cli(["role", "add", role], environment: operatorEnvironment)
            }
            let token = try gateway.accessToken("avery", try await gateway.createUser("avery", roles: ["auditor"]))
            let denied = try gateway.curl("/v1/invoices", ["-H", "authorization: Bearer \(token)"], host: "billing.localhost")
            #expect(denied.status == 403)
            let requestID = try #require(denied.json["request_id"] as? String)
            _ = try await gateway.auditSearch(["--request-id", requestID]) { $0.contains(requestID) }
            try await Task.sleep(for: .milliseconds(2_500))  // a checkpoint after the denial, anchored

            let clean = try await Self.verify(gateway)
            #expect(clean.status == 0 && clean.output.contains("anchors held") && clean.output.contains("intact"), "\(clean.output)")
            // With the master key, signatures are checked against the archive of checkpoint keys.
            #expect(clean.output.contains("signed checkpoints checked against the key archive (1 key(s))"), "\(clean.output)")
            let check = try Self.adversary(gateway, ["check"])
            #expect(check["records"] as? Int == check["matching"] as? Int && (check["records"] as? Int ?? 0) > 10, "\(check)")

            let anchors = try String(contentsOfFile: gateway.anchorFile, encoding: .utf8).split(separator: "\n")
            func anchoredWriters(_ kind: String) -> [String] {
                anchors.compactMap { line in
                    guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                        object["anchor"] as? String == kind
                    else { return nil }
                    return object["writer"] as? String
                }
            }
            let stopped = anchoredWriters("writer.stop")
            #expect(stopped.count >= 3, "each operator command anchors its start and stop: \(anchors)")
            let (first, second) = (try #require(stopped.first), try #require(stopped.dropFirst().first))
            // Operator commands with the master key sign their own chain at their clean stop.
            #expect(Set(stopped).isSubset(of: Set(anchoredWriters("checkpoint"))), "\(anchors)")

            // 1. A forged grant slipped in before an operator command's clean stop, the chain re-hashed.
            _ = try Self.adversary(
                gateway, ["forge", "--writer", first, "--principal", "User::\"mallory\"", "--action", "role.grant", "--before-stop"])
            // 2. Another operator command's records deleted whole.
            _ = try Self.adversary(gateway, ["drop-writer", "--writer", second])
            // 3. The denial turned into an allow, the rest of the gateway's chain re-hashed, its checkpoints deleted.
            let flipped = try Self.adversary(gateway, ["flip", "--request-id", requestID])
            let gatewayWriter = try #require(flipped["writer"] as? String)

            let attacked = try await Self.verify(gateway)
            #expect(attacked.status == 1, "\(attacked.output)")
            let lines = attacked.output.split(separator: "\n")
            #expect(lines.contains { $0.contains("differs from its anchor: writer \(first)") && $0.contains("writer.stop") }, "\(attacked.output)")
            #expect(lines.contains { $0.contains("writer \(second)") && $0.contains("not in the database") }, "\(attacked.output)")
            #expect(lines.contains { $0.contains("differs from its anchor: writer \(gatewayWriter)") }, "\(attacked.output)")
            print("audit verify after the attacks:\n\(attacked.output)")

            // 4. A key of the adversary's own, inserted as a published key, checkpoints re-signed with it.
            let injected = try Self.adversary(gateway, ["inject-key", "--sign-checkpoints"])
            let kid = try #require(injected["kid"] as? String)
            try await Task.sleep(for: .seconds(2))  // the NOTIFY it sent reloads the keys
            let jwks = try GatewayFixture.curl(["http://127.0.0.1:\(gateway.identityPort)/.well-known/jwks.json"]).body
            #expect(!jwks.contains(kid), "an injected key is never published: \(jwks)")
            #expect(gateway.serve.standardError.contains("the master key does not vouch for"), "the injection is reported")
            // Nor does it verify the checkpoints it re-signed, even added to the key archive.
            let paserk = try #require(injected["paserk"] as? String)
            _ = try GatewayFixture.standardOutput(
                of: "/usr/bin/psql",
                [
                    gateway.environment["PORTCULLIS_DATABASE_URL"] ?? "", "-qc",
                    "INSERT INTO audit_signing_keys (key_id, public_key, authenticator) VALUES ('\(kid)', '\(paserk)', 'forged')",
                ])
            let resigned = try await Self.verify(gateway)
            #expect(resigned.output.contains("bad checkpoint signature"), "\(resigned.output)")
            #expect(resigned.output.contains("untrusted archived key: \(kid)"), "\(resigned.output)")
            let exported = try await GatewayFixture.cli(["audit", "keys", "export"], environment: operatorEnvironment)
            #expect(exported.contains(#""keys""#) && !exported.contains(kid), "\(exported)")
        }
    }
}
