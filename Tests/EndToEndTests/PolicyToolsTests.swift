import Database
import Foundation
import Logging
import TestSupport
import Testing

@testable import Audit

/// `portcullis policy test|explain|diff` as the security team runs them.
@Suite struct PolicyToolsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A scratch directory with `files` (relative path → text), removed after `body`.
    static func withDirectory<T>(_ files: [String: String], _ body: (URL) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policy-tools-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for (path, text) in files {
            let file = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        return try await body(directory)
    }

    static func run(
        _ arguments: [String], environment: [String: String] = ["PORTCULLIS_LOG_LEVEL": "error"]
    ) async throws
        -> (status: Int32, output: String, errors: String)
    {
        let process = try PortcullisProcess(arguments, environment: environment)
        let status = try await process.wait()
        return (status, process.standardOutput, process.standardError)
    }

    @Test func shippedTestsPassAndABrokenPolicyIsCaught() async throws {
        let policies = Self.root.appendingPathComponent("policies")
        let schema = policies.appendingPathComponent("schema.cedarschema").path
        let shipped = try await Self.run(["policy", "test", policies.path, "--schema", schema])
        #expect(shipped.status == 0, "\(shipped.output)\(shipped.errors)")
        #expect(shipped.output.contains("ok: 70 of 70 cases passed in 3 files"))

        // The same tests against a copy where the admin-API prefix lost its slash: the
        // look-alike path test must fail, naming the case, its line and both decisions.
        var files: [String: String] = [:]
        for name in ["identity-admin.cedar", "identity-api.cedar", "logistics.cedar", "tests/identity.yaml"] {
            files[name] = try String(contentsOf: policies.appendingPathComponent(name), encoding: .utf8)
        }
        files["identity-api.cedar"] = files["identity-api.cedar"]!.replacingOccurrences(of: #""/v1/admin/*""#, with: #""/v1/admin*""#)
        try await Self.withDirectory(files) { directory in
            let broken = try await Self.run(["policy", "test", directory.path, "--schema", schema])
            #expect(broken.status == 1)
            let yaml = directory.appendingPathComponent("tests/identity.yaml").path
            #expect(broken.output.contains("FAIL \(yaml):"), "\(broken.output)")
            #expect(broken.output.contains("the admin path prefix is not matched by look-alikes"))
            #expect(broken.output.contains("expected: Deny\n  got:      Allow by [identity.admin-api]"), "\(broken.output)")
            #expect(broken.output.contains("FAILED: 23 of 24 cases passed"))
        }
    }

    @Test func invalidTestFilesAreRejectedWithTheirPosition() async throws {
        let policy = #"@id("p") permit(principal, action, resource);"#
        let cases = [
            ("cases:\n  - name: x\n    principal: {id: a\n", "tests/t.yaml:4:1: YAML syntax error"),
            (
                "cases:\n  - name: x\n    principal: {id: a}\n    action: GET\n    resource: {route: r}\n    expect: allow\n    colour: red\n",
                "tests/t.yaml:7:5: unknown key 'cases[0].colour'"
            ),
            (
                "cases:\n  - name: x\n    principal: {id: a}\n    action: FETCH\n    resource: {route: r}\n    expect: allow\n",
                "tests/t.yaml:4:13: 'cases[0].action': 'FETCH' is not one of"
            ),
            (
                "cases:\n  - name: x\n    principal: {id: a}\n    action: GET\n    resource: {route: r}\n    expect: allow\n"
                    + "    context: {grpc: {service: s.V1, method: M}}\n",
                "tests/t.yaml:7:21: 'cases[0].context.grpc': a gRPC call is a POST, not GET"
            ),
            (
                "cases:\n  - name: x\n    principal: {id: a}\n    action: POST\n    resource: {route: r}\n    expect: allow\n"
                    + "    context: {grpc: {service: s.V1, method: M}, http: {path: /s.V1/N}}\n",
                "tests/t.yaml:7:62: 'cases[0].context.http.path': a call of s.V1/M has the path /s.V1/M"
            ),
            (
                "cases:\n  - name: x\n    principal: {id: a}\n    action: POST\n    resource: {route: r}\n    expect: allow\n"
                    + "    context: {grpc: {service: s.V1}}\n",
                "required key 'cases[0].context.grpc.method' is missing"
            ),
        ]
        for (yaml, message) in cases {
            try await Self.withDirectory(["p.cedar": policy, "tests/t.yaml": yaml]) { directory in
                let result = try await Self.run(["policy", "test", directory.path])
                #expect(result.status == 2)
                #expect(result.errors.contains(message), "\(result.errors)")
                #expect(result.output.isEmpty)
            }
        }
        // A policy set that fails validation stops the run before any test.
        try await Self.withDirectory([
            "p.cedar": "permit(principal, action, resource) when { context.nope };",
            "tests/t.yaml": "cases: []\n",
        ]) { directory in
            let result = try await Self.run([
                "policy", "test", directory.path, "--schema",
                Self.root.appendingPathComponent("policies/schema.cedarschema").path,
            ])
            #expect(result.status == 2)
            #expect(result.errors.contains("fail validation against the schema"), "\(result.errors)")
        }
    }

    @Test func explainNamesScopeConditionAndErrorReasons() async throws {
        let policies = """
            @id("admins")
            permit (principal in Role::"security-admin", action, resource == Route::"identity-admin");

            @id("reads")
            permit (principal in Role::"staff", action in Action::"read", resource == Route::"shipments")
            when { context.http.path like "/shipments/*" }
            unless { context.http.query == "debug" };

            @id("team")
            forbid (principal, action, resource) when { resource.getTag("team") == "finance" };
            """
        let request = """
            role_parents: {dispatcher: [staff]}
            principal: {id: dana, roles: [dispatcher]}
            action: GET
            resource: {route: shipments}
            context: {http: {path: /shipments/7, query: debug}}
            """
        try await Self.withDirectory(["policies/p.cedar": policies, "request.yaml": request]) { directory in
            let file = directory.appendingPathComponent("policies/p.cedar").path
            let result = try await Self.run([
                "policy", "explain", "--policies", directory.appendingPathComponent("policies").path,
                "--request", directory.appendingPathComponent("request.yaml").path,
            ])
            #expect(result.status == 0, "\(result.errors)")
            #expect(result.output.hasPrefix("decision: Deny"))
            #expect(result.output.contains(#"request:  User::"dana" GET /shipments/7?debug on Route::"shipments" (token)"#))
            #expect(result.output.contains("permit admins (\(file):1:1): scope mismatch: principal, resource"), "\(result.output)")
            #expect(
                result.output.contains(
                    #"permit reads (\#(file):4:1): condition false: clause 2 unless { context.http.query == "debug" } at \#(file):7:10"#),
                "\(result.output)")
            #expect(
                result.output.contains(
                    #"forbid team (\#(file):9:1): error in clause 1 when { resource.getTag("team") == "finance" } at \#(file):10:45: `Route::"shipments"` does not have the tag `team`"#
                ),
                "\(result.output)")

            // The same request by flags, with the label that makes the forbid apply.
            let flags = try await Self.run([
                "policy", "explain", "--policies", directory.appendingPathComponent("policies").path,
                "--principal", "dana", "--role", "dispatcher", "--role-parent", "dispatcher=staff",
                "--route", "shipments", "--path", "/shipments/7", "--label", "team=finance",
            ])
            #expect(flags.status == 0, "\(flags.errors)")
            #expect(
                flags.output.contains("applied:\n  permit reads (\(file):4:1): overridden by a forbid\n  forbid team (\(file):9:1): determining"),
                "\(flags.output)")
        }
    }

    /// `policy diff` on a seeded audit log: exactly the requests whose decision changes, with
    /// roles (and the role hierarchy) taken from the identity store.
    @Test func diffReplaysTheAuditLogAndReportsExactlyTheChangedDecisions() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let masterKey = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            let environment = ["PORTCULLIS_DATABASE_URL": url.connectionString, "PORTCULLIS_MASTER_KEY": masterKey, "PORTCULLIS_LOG_LEVEL": "error"]
            for arguments in [
                ["migrate"], ["role", "add", "staff"], ["role", "add", "finance"], ["role", "add", "dispatcher", "--parent", "staff"],
                ["user", "add", "fiona", "--email", "fiona@logistics.example", "--role", "finance"],
                ["user", "add", "dana", "--email", "dana@logistics.example", "--role", "dispatcher"],
            ] {
                let result = try await Self.run(arguments, environment: environment)
                #expect(result.status == 0, "\(arguments): \(result.errors)")
            }
            let now = Date()
            func access(
                _ principal: String, _ method: String, _ route: String?, _ path: String, _ outcome: String, daysAgo: Double,
                auth: String = "token", id: String = UUID().uuidString
            ) -> AuditEvent {
                AuditEvent(
                    time: now.addingTimeInterval(-daysAgo * 86_400), kind: .access, requestID: id, principal: principal,
                    authMethod: auth, action: method, route: route, target: path, clientAddress: "10.0.0.7", outcome: outcome)
            }
            let fiona = #"User::"fiona""#
            let dana = #"User::"dana""#
            let events = [
                access(fiona, "GET", "billing", "/invoices", "allow", daysAgo: 1),
                access(fiona, "GET", "billing", "/invoices", "allow", daysAgo: 2),
                access(fiona, "POST", "billing", "/invoices", "allow", daysAgo: 1, id: "req-fiona-post"),
                access(dana, "GET", "shipments", "/shipments/1", "allow", daysAgo: 3),
                access(dana, "POST", "shipments", "/shipments", "deny", daysAgo: 2),
                access(dana, "GET", "billing", "/invoices", "deny", daysAgo: 1),
                access(#"Anonymous::"anonymous""#, "POST", "identity", "/v1/login", "allow", daysAgo: 1, auth: "none"),
                // Outside the window: would change too, but is not replayed.
                access(dana, "DELETE", "shipments", "/shipments/9", "deny", daysAgo: 30),
                // No route matched: never decided by a policy.
                access(dana, "GET", nil, "/nowhere", "deny", daysAgo: 1),
            ]
            try await TestDatabase.withClient(url) { client in
                var chain = HashChain()
                try await AuditStore(client: client, logger: Logger(label: "policy-diff-test")).write(events.map { chain.append($0) })
            }
            let old = """
                @id("finance-billing") permit (principal in Role::"finance", action, resource == Route::"billing");
                @id("staff-read-shipments") permit (principal in Role::"staff", action in Action::"read", resource == Route::"shipments");
                @id("login") permit (principal, action, resource == Route::"identity") when { context.http.path like "/v1/login*" };
                """
            let new = """
                @id("finance-billing-read") permit (principal in Role::"finance", action in Action::"read", resource == Route::"billing");
                @id("staff-shipments") permit (principal in Role::"staff", action, resource == Route::"shipments");
                @id("login") permit (principal, action, resource == Route::"identity") when { context.http.path like "/v1/login*" };
                """
            try await Self.withDirectory(["old/p.cedar": old, "new/p.cedar": new]) { directory in
                let result = try await Self.run(
                    [
                        "policy", "diff", directory.appendingPathComponent("old").path,
                        directory.appendingPathComponent("new").path, "--days", "7",
                    ], environment: environment)
                #expect(result.status == 1, "\(result.output)\(result.errors)")
                let changed = result.output.split(separator: "\n").filter { $0.contains("→") && $0.hasPrefix("    ") }
                #expect(
                    changed == [
                        "    POST /shipments (token, seen 1×): Deny → Allow  [old: no policy; new: staff-shipments]",
                        "    POST /invoices (token, seen 1×): Allow → Deny  [old: finance-billing; new: no policy]",
                    ], "\(result.output)")
                #expect(result.output.contains("corpus: 6 distinct requests from the audit log of the last 7 days"), "\(result.output)")
                #expect(result.output.contains("User::\"dana\" (roles: dispatcher)\n  Route::\"shipments\"\n    POST /shipments"))
                #expect(result.output.contains("2 of 6 requests change: 1 Allow → Deny, 1 Deny → Allow"))

                // No change between a set and itself.
                let same = try await Self.run(
                    [
                        "policy", "diff", directory.appendingPathComponent("old").path,
                        directory.appendingPathComponent("old").path,
                    ], environment: environment)
                #expect(same.status == 0, "\(same.errors)")
                #expect(same.output.contains("no decision changes in 6 requests"))

                // Explaining the audited request that the change denies: rebuilt with today's roles.
                let explain = try await Self.run(
                    [
                        "policy", "explain", "--policies", directory.appendingPathComponent("new").path,
                        "--request-id", "req-fiona-post",
                    ], environment: environment)
                #expect(explain.status == 0, "\(explain.errors)")
                #expect(explain.output.hasPrefix("decision: Deny"), "\(explain.output)")
                #expect(explain.output.contains(#"request:  User::"fiona" POST /invoices on Route::"billing" (token)"#), "\(explain.output)")
                #expect(explain.output.contains("recorded: allow by []"), "\(explain.output)")
                #expect(
                    explain.output.contains(
                        "finance-billing-read (\(directory.appendingPathComponent("new/p.cedar").path):1:1): scope mismatch: action"),
                    "\(explain.output)")
                #expect(explain.output.contains("roles and groups of User::\"fiona\" are today's, not those at decision time"))
                #expect(explain.output.contains("host, query, TLS version"))
                let missing = try await Self.run(
                    [
                        "policy", "explain", "--policies", directory.appendingPathComponent("new").path,
                        "--request-id", "no-such-request",
                    ], environment: environment)
                #expect(missing.status == 2)
                #expect(missing.errors.contains("no access record with request id no-such-request"))
            }

            // The same comparison over a requests file, no database needed.
            let lines = [
                #"{"principal": {"id": "fiona", "roles": ["finance"]}, "action": "POST", "resource": {"route": "billing"}}"#,
                #"{"principal": {"id": "fiona", "roles": ["finance"]}, "action": "GET", "resource": {"route": "billing"}}"#,
                "",
                #"{"role_parents": {"dispatcher": ["staff"]}, "principal": {"id": "dana", "roles": ["dispatcher"]}, "action": "PUT", "resource": {"route": "shipments"}}"#,
            ]
            try await Self.withDirectory([
                "old/p.cedar": old, "new/p.cedar": new, "requests.jsonl": lines.joined(separator: "\n"),
                "bad.jsonl": lines[0] + "\n" + #"{"principal": {"id": "x"}, "action": "GET"}"#,
            ]) { directory in
                let result = try await Self.run([
                    "policy", "diff", directory.appendingPathComponent("old").path, directory.appendingPathComponent("new").path,
                    "--requests", directory.appendingPathComponent("requests.jsonl").path,
                ])
                #expect(result.status == 1, "\(result.errors)")
                #expect(result.output.contains("    PUT / (token): Deny → Allow"), "\(result.output)")
                #expect(result.output.contains("    POST / (token): Allow → Deny"), "\(result.output)")
                #expect(result.output.contains("2 of 3 requests change"))
                let bad = try await Self.run([
                    "policy", "diff", directory.appendingPathComponent("old").path, directory.appendingPathComponent("new").path,
                    "--requests", directory.appendingPathComponent("bad.jsonl").path,
                ])
                #expect(bad.status == 2)
                #expect(bad.errors.contains("bad.jsonl:2:1: required key 'resource' is missing"), "\(bad.errors)")
            }
        }
    }
}
