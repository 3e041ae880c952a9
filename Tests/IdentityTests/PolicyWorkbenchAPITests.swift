import Audit
import Foundation
import HTTPTypes
import Identity
import TestSupport
import Testing

/// `/v1/admin/policies/{check,explain,diff}`: previews of a policy set before it ships, over
/// HTTP, against the policy store's active version, the identity store and the audit trail.
@Suite struct PolicyWorkbenchAPITests {
    static let routeA = PolicyFixtures.opens("a")
    static let routeB = PolicyFixtures.opens("b")

    static func bundle(_ policies: [String: String], tests: [String: String] = [:]) -> [String: Any] {
        ["policies": policies, "schema": PolicyFixtures.schema, "tests": tests]
    }

    /// dana's GET of `path` on Route::"shipments", written like a policy test case.
    static func request(_ path: String) -> [String: Any] {
        [
            "principal": ["id": "dana", "roles": ["dispatcher"]], "action": "GET", "resource": ["route": "shipments"],
            "context": ["http": ["path": path]],
        ]
    }

    static let passingTest = """
        cases:
          - name: dana reads /a
            principal: {id: dana}
            action: GET
            resource: {route: shipments}
            context: {http: {path: /a/1}}
            expect: allow
        """

    @Test func checkValidatesAndTestsWithoutStoringAnything() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            let good = try await harness.send(
                .post, "/v1/admin/policies/check",
                body: harness.json(Self.bundle(["a.cedar": Self.routeA], tests: ["a.yaml": Self.passingTest])), bearer: admin)
            #expect(good.status == 200, "\(good.text)")
            #expect((good.json["tests"] as? [String: Any])?["cases"] as? Int == 1)
            #expect((good.json["errors"] as? [Any])?.isEmpty == true)

            let failing = try await harness.send(
                .post, "/v1/admin/policies/check",
                body: harness.json(Self.bundle(["b.cedar": Self.routeB], tests: ["a.yaml": Self.passingTest])), bearer: admin)
            #expect(failing.status == 200)
            let failures = (failing.json["tests"] as? [String: Any])?["failures"] as? [String] ?? []
            #expect(failures.count == 1 && failures[0].contains("dana reads /a"), "\(failing.text)")

            let typo = "@id(\"typo\")\npermit (principal, action, resource)\nwhen { principal.department == \"finance\" };\n"
            let invalid = try await harness.send(
                .post, "/v1/admin/policies/check", body: harness.json(Self.bundle(["typo.cedar": typo])), bearer: admin)
            let errors = invalid.json["errors"] as? [[String: Any]] ?? []
            #expect(errors.first?["file"] as? String == "preview/typo.cedar" && errors.first?["line"] as? Int == 3, "\(invalid.text)")

            let listed = try await harness.send(.get, "/v1/admin/policies", bearer: admin)
            #expect((listed.json["items"] as? [Any])?.isEmpty == true, "a check stores nothing")
        }
    }

    @Test func explainDescribedAndAuditedRequests() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            #expect(try await AdminPolicyAPITests.push(harness, ["a.cedar": Self.routeA], message: "open /a", bearer: admin).status == 201)
            try await harness.makeUser("dana", roles: ["dispatcher"])

            let allowed = try await harness.send(
                .post, "/v1/admin/policies/explain", body: harness.json(["request": Self.request("/a/7")]), bearer: admin)
            #expect(allowed.status == 200, "\(allowed.text)")
            #expect(allowed.string("decision") == "Allow")
            let traces = allowed.json["policies"] as? [[String: Any]] ?? []
            #expect(traces.first?["id"] as? String == "open-a" && traces.first?["determining"] as? Bool == true)

            // The same request under a proposed set: the condition of open-b is false.
            var proposed = Self.bundle(["b.cedar": Self.routeB])
            proposed["request"] = Self.request("/a/7")
            let denied = try await harness.send(.post, "/v1/admin/policies/explain", body: harness.json(proposed), bearer: admin)
            #expect(denied.string("decision") == "Deny", "\(denied.text)")
            let trace = (denied.json["policies"] as? [[String: Any]])?.first
            #expect(trace?["outcome"] as? String == "condition_false")
            #expect((trace?["reason"] as? String)?.contains("context.http.path like") == true)

            // An audited decision, rebuilt from its record with dana's roles as they are now.
            harness.audit.record(
                AuditEvent(
                    kind: .access, requestID: "feedc0de", principal: #"User::"dana""#, authMethod: "session",
                    action: "GET", route: "shipments", target: "/a/9", clientAddress: "10.1.2.3", outcome: "allow",
                    policies: ["open-a"], policyVersion: "v-old"))
            _ = try await harness.auditEvents(action: "GET")
            let audited = try await harness.send(.post, "/v1/admin/policies/explain", body: harness.json(["request_id": "feedc0de"]), bearer: admin)
            #expect(audited.status == 200, "\(audited.text)")
            #expect(audited.string("decision") == "Allow")
            #expect((audited.json["recorded"] as? [String: Any])?["policy_version"] as? String == "v-old")
            #expect(audited.string("request")?.contains("/a/9") == true)

            let unknown = try await harness.send(.post, "/v1/admin/policies/explain", body: harness.json(["request_id": "0000"]), bearer: admin)
            #expect(unknown.status == 404)
            let both = try await harness.send(
                .post, "/v1/admin/policies/explain",
                body: harness.json(["request_id": "feedc0de", "request": Self.request("/a")]), bearer: admin)
            #expect(both.status == 400)
            let malformed = try await harness.send(
                .post, "/v1/admin/policies/explain",
                body: harness.json(["request": ["principal": ["id": "dana"], "action": "FETCH"]]), bearer: admin)
            #expect(malformed.status == 400, "\(malformed.text)")
        }
    }

    @Test func diffOverTheAuditTrailListsExactlyTheChangedDecisions() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            #expect(try await AdminPolicyAPITests.push(harness, ["a.cedar": Self.routeA], message: "open /a", bearer: admin).status == 201)
            try await harness.makeUser("dana", roles: ["dispatcher"])
            for (id, path, times) in [("r1", "/a/1", 3), ("r2", "/b/1", 1), ("r3", "/c/1", 2)] {
                for n in 0..<times {
                    harness.audit.record(
                        AuditEvent(
                            kind: .access, requestID: "\(id)-\(n)", principal: #"User::"dana""#, authMethod: "session",
                            action: "GET", route: "shipments", target: path, outcome: "allow"))
                }
            }
            _ = try await harness.auditEvents(action: "GET")

            let diff = try await harness.send(
                .post, "/v1/admin/policies/diff", body: harness.json(Self.bundle(["b.cedar": Self.routeB])), bearer: admin)
            #expect(diff.status == 200, "\(diff.text)")
            #expect(diff.json["total"] as? Int == 3)
            let changes = diff.json["changes"] as? [[String: Any]] ?? []
            #expect(
                changes.map { "\($0["path"]!) \($0["old"]!)→\($0["new"]!) seen \($0["seen"]!)" } == [
                    "/a/1 Allow→Deny seen 3", "/b/1 Deny→Allow seen 1",
                ])
            #expect(changes.allSatisfy { $0["principal"] as? String == #"User::"dana""# && ($0["roles"] as? [String]) == ["dispatcher"] })

            // Against a stored version, over a requests corpus given in the body.
            var body = Self.bundle(["a.cedar": Self.routeA + "\n" + Self.routeB])
            body["from_version"] = 1
            body["requests"] = [Self.request("/b/2"), Self.request("/c/2")]
            let widened = try await harness.send(.post, "/v1/admin/policies/diff", body: harness.json(body), bearer: admin)
            let widenedChanges = widened.json["changes"] as? [[String: Any]] ?? []
            #expect(widenedChanges.map { $0["path"] as? String } == ["/b/2"], "\(widened.text)")
            #expect(widened.json["total"] as? Int == 2)

            let broken = try await harness.send(
                .post, "/v1/admin/policies/diff",
                body: harness.json(Self.bundle(["x.cedar": "permit (principal, action, resource) when { nope };"])),
                bearer: admin)
            #expect(broken.status == 422, "\(broken.text)")
            #expect(broken.string("error") == "policy_invalid")
            let noSet = try await harness.send(.post, "/v1/admin/policies/diff", body: harness.json(["days": 3]), bearer: admin)
            #expect(noSet.status == 400)
        }
    }

    @Test func onlySecurityAdminsMayPreview() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("dispatcher1", roles: ["dispatcher"])
            let token = try #require(try await harness.login("dispatcher1", "correct horse battery staple").string("access_token"))
            for path in ["check", "explain", "diff"] {
                let body = harness.json(Self.bundle(["a.cedar": Self.routeA]))
                #expect(try await harness.send(.post, "/v1/admin/policies/\(path)", body: body, bearer: token).status == 403)
                #expect(try await harness.send(.post, "/v1/admin/policies/\(path)", body: body).status == 401)
            }
        }
    }
}
