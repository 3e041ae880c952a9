import Foundation
import HTTPTypes
import Identity
import TestSupport
import Testing

/// `/v1/admin/policies…`: the policy store over HTTP, for security administrators only, with
/// the same checks as `portcullis policy push` and every change (applied or refused) audited.
@Suite struct AdminPolicyAPITests {

    static func push(_ harness: IdentityHarness, _ policies: [String: String], message: String, bearer: String) async throws -> IdentityHarness.Reply
    {
        try await harness.send(
            .post, "/v1/admin/policies", body: harness.json(["message": message, "policies": policies, "schema": PolicyFixtures.schema]),
            bearer: bearer)
    }

    static let routeA = PolicyFixtures.opens("a")
    static let routeB = PolicyFixtures.opens("b")

    @Test func securityAdminsPushListShowAndRollBack() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            let first = try await Self.push(harness, ["shipments.cedar": Self.routeA], message: "open /a", bearer: admin)
            #expect(first.status == 201, "\(first.text)")
            #expect(first.json["version"] as? Int == 1)
            #expect(first.string("author") == #"User::"sec-admin""#)
            let firstHash = try #require(first.string("hash"))
            let second = try await Self.push(harness, ["shipments.cedar": Self.routeB], message: "open /b instead", bearer: admin)
            #expect(second.status == 201)

            let listed = try await harness.send(.get, "/v1/admin/policies", bearer: admin)
            let items = listed.json["items"] as? [[String: Any]] ?? []
            #expect(items.compactMap { $0["version"] as? Int } == [2, 1])
            #expect(items.compactMap { $0["active"] as? Bool } == [true, false])
            let shown = try await harness.send(.get, "/v1/admin/policies/1", bearer: admin)
            let files = shown.json["policies"] as? [[String: String]] ?? []
            #expect(files == [["name": "shipments.cedar", "text": Self.routeA]])
            #expect((shown.json["schema"] as? [String: String])?["name"] == "schema.cedarschema")
            #expect(try await harness.send(.get, "/v1/admin/policies/7", bearer: admin).status == 404)

            let rollback = try await harness.send(
                .post, "/v1/admin/policies/1/rollback", body: harness.json(["message": "back to /a"]), bearer: admin)
            #expect(rollback.status == 201, "\(rollback.text)")
            #expect(rollback.json["version"] as? Int == 3)
            #expect(rollback.json["rollback_of"] as? Int == 1)
            #expect(rollback.string("hash") == firstHash)
            #expect(try await harness.send(.post, "/v1/admin/policies/1/rollback", body: "{}", bearer: admin).status == 409)

            let pushes = try await harness.auditEvents(action: "policy.push")
            #expect(pushes.map(\.outcome) == ["applied", "applied"])
            #expect(pushes.map(\.target) == [#"PolicyVersion::"1""#, #"PolicyVersion::"2""#])
            #expect(pushes.allSatisfy { $0.principal == #"User::"sec-admin""# })
            let rollbacks = try await harness.auditEvents(action: "policy.rollback")
            #expect(rollbacks.map(\.outcome) == ["applied", "refused"])
        }
    }

    @Test func aSetThatFailsValidationIsRefusedWithItsFindings() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            #expect(try await Self.push(harness, ["shipments.cedar": Self.routeA], message: "open /a", bearer: admin).status == 201)
            let typo = "@id(\"typo\")\npermit (principal, action, resource)\nwhen { principal.department == \"finance\" };\n"
            let refused = try await Self.push(harness, ["shipments.cedar": Self.routeB, "typo.cedar": typo], message: "typo", bearer: admin)
            #expect(refused.status == 422)
            #expect(refused.string("error") == "policy_refused")
            let errors = (refused.json["report"] as? [String: Any])?["errors"] as? [[String: Any]] ?? []
            #expect(errors.count >= 1)
            #expect(
                errors.allSatisfy { $0["file"] as? String == "request/typo.cedar" && $0["line"] as? Int == 3 && $0["policy"] as? String == "typo" })
            let badName = try await Self.push(harness, ["../typo.cedar": Self.routeB], message: "escape", bearer: admin)
            #expect(badName.status == 400)
            let listed = try await harness.send(.get, "/v1/admin/policies", bearer: admin)
            #expect((listed.json["items"] as? [[String: Any]])?.count == 1)
            let pushes = try await harness.auditEvents(action: "policy.push")
            #expect(pushes.map(\.outcome) == ["applied", "refused", "refused"])
            #expect(pushes[1].details?.contains("typo.cedar:3:") == true)
        }
    }

    @Test func othersCannotReadOrChangePolicies() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            #expect(try await Self.push(harness, ["shipments.cedar": Self.routeA], message: "open /a", bearer: admin).status == 201)
            try await harness.makeUser("dispatcher1", roles: ["dispatcher"])
            let token = try #require(try await harness.login("dispatcher1", "correct horse battery staple").string("access_token"))
            #expect(try await Self.push(harness, ["shipments.cedar": Self.routeB], message: "mine", bearer: token).status == 403)
            #expect(try await harness.send(.post, "/v1/admin/policies/1/rollback", body: "{}", bearer: token).status == 403)
            #expect(try await harness.send(.get, "/v1/admin/policies", bearer: token).status == 403)
            #expect(try await harness.send(.get, "/v1/admin/policies/1", bearer: token).status == 403)
            #expect(try await harness.send(.get, "/v1/admin/policies").status == 401)
            let listed = try await harness.send(.get, "/v1/admin/policies", bearer: admin)
            #expect((listed.json["items"] as? [[String: Any]])?.count == 1)
            let denials = try await harness.auditEvents(action: "POST /v1/admin/policies")
            #expect(denials.map(\.outcome) == ["deny"])
            #expect(denials.first?.principal == #"User::"dispatcher1""#)
        }
    }
}
