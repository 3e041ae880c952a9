import Foundation
import HTTPTypes
import Identity
import Testing

/// `/v1/admin/…` through HTTP: Cedar-authorized, validated per field, paginated and audited.
@Suite struct AdminAPITests {
    @Test func securityAdminsManageUsersRolesAndServices() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            let role = try await harness.send(
                .post, "/v1/admin/roles", body: harness.json(["name": "Dispatcher", "description": "Plans routes"]), bearer: admin)
            #expect(role.status == 201)
            #expect(role.string("name") == "dispatcher")
            #expect(try await harness.send(.post, "/v1/admin/roles", body: harness.json(["name": "staff"]), bearer: admin).status == 201)
            #expect(try await harness.send(.put, "/v1/admin/roles/dispatcher/parents/staff", bearer: admin).status == 200)
            let cycle = try await harness.send(.put, "/v1/admin/roles/staff/parents/dispatcher", bearer: admin)
            #expect(cycle.status == 409)
            #expect(cycle.string("message")?.contains("cycle") == true)

            let created = try await harness.send(
                .post, "/v1/admin/users",
                body: harness.json([
                    "login": "Zoe", "email": "zoe@logistics.example", "display_name": "Zoe", "password": "a long enough password",
                    "roles": ["dispatcher"],
                ]), bearer: admin)
            #expect(created.status == 201)
            #expect(created.string("login") == "zoe")
            #expect(created.json["roles"] as? [String] == ["dispatcher"])
            let duplicate = try await harness.send(
                .post, "/v1/admin/users",
                body: harness.json([
                    "login": "ZOE", "email": "other@logistics.example",
                ]), bearer: admin)
            #expect(duplicate.status == 409)
            #expect(try await harness.login("zoe", "a long enough password").status == 200)

            let disabled = try await harness.send(.patch, "/v1/admin/users/zoe", body: harness.json(["status": "disabled"]), bearer: admin)
            #expect(disabled.string("status") == "disabled")
            #expect(try await harness.login("zoe", "a long enough password").status == 401)

            let service = try await harness.send(
                .post, "/v1/admin/services",
                body: harness.json([
                    "name": "billing", "owner": "finance", "spiffe_id": "spiffe://logistics.internal/billing",
                ]), bearer: admin)
            #expect(service.status == 201)
            let secret = try await harness.send(
                .post, "/v1/admin/services/billing/secrets", body: harness.json(["lifetime_seconds": 3600]), bearer: admin)
            #expect(secret.status == 201)
            let value = try #require(secret.string("secret"))
            #expect(try await harness.token(form: "grant_type=client_credentials&client_id=billing&client_secret=\(value)").status == 200)
            let listed = try await harness.send(.get, "/v1/admin/services/billing/secrets", bearer: admin)
            #expect(!listed.text.contains(value))

            let events = try await harness.auditEvents(action: "user.create")
            #expect(events.count == 1)
            #expect(events.first?.principal == #"User::"sec-admin""#)
            #expect(events.first?.target == #"User::"zoe""#)
            #expect(events.first?.details?.contains(#""after""#) == true)
            let status = try await harness.auditEvents(action: "user.update")
            #expect(status.first?.details?.contains(#""status":"active""#) == true)
            #expect(status.first?.details?.contains(#""status":"disabled""#) == true)
            #expect(try await harness.auditEvents(action: "service.secret.create").count == 1)
        }
    }

    @Test func nonAdminsAndAnonymousCallersAreRefused() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("driver1", roles: ["driver"])
            let token = try #require(try await harness.login("driver1", "correct horse battery staple").string("access_token"))
            for (method, path) in [
                ("GET", "/v1/admin/users"), ("POST", "/v1/admin/roles"), ("DELETE", "/v1/admin/sessions/00000000-0000-0000-0000-000000000000"),
            ] {
                let reply = try await harness.send(.init(method)!, path, body: method == "POST" ? "{}" : nil, bearer: token)
                #expect(reply.status == 403, "\(method) \(path): \(reply.text)")
                #expect(try await harness.send(.init(method)!, path).status == 401)
            }
            #expect(try await harness.send(.get, "/v1/admin/users", bearer: "v4.public.forged").status == 401)
            let denials = try await harness.auditEvents(action: "GET /v1/admin/users")
            #expect(denials.contains { $0.outcome == "deny" && $0.principal == #"User::"driver1""# })
        }
    }

    @Test func withoutAPolicyEveryAdminRequestIsDenied() async throws {
        try await IdentityHarness.run(policy: "") { harness in
            let token = try await harness.adminToken()
            #expect(try await harness.send(.get, "/v1/admin/users", bearer: token).status == 403)
        }
    }

    /// The admin API decides on the canonical path, as the gateway does (issue 19): a policy
    /// about `/v1/admin/users/victim` holds for `/v1/admin/users/%76ictim` too.
    @Test func policiesSeeTheCanonicalPath() async throws {
        let policy =
            IdentityHarness.adminPolicy + """

                @id("protect-victim")
                forbid (principal, action, resource == Route::"identity-admin") when { context.http.path == "/v1/admin/users/victim" };
                """
        try await IdentityHarness.run(policy: policy) { harness in
            let token = try await harness.adminToken()
            try await harness.makeUser("victim")
            #expect(try await harness.send(.get, "/v1/admin/users/victim", bearer: token).status == 403)
            #expect(try await harness.send(.get, "/v1/admin/users/%76ictim", bearer: token).status == 403)
            #expect(try await harness.send(.get, "/v1/admin/users/vict%69m", bearer: token).status == 403)
            #expect(try await harness.send(.get, "/v1/admin/users", bearer: token).status == 200)
        }
    }

    /// A disabled admin's still-unexpired token stops working at once: the API re-reads the account.
    @Test func aDisabledAdminLosesAccessImmediately() async throws {
        try await IdentityHarness.run { harness in
            let token = try await harness.adminToken()
            #expect(try await harness.send(.get, "/v1/admin/users", bearer: token).status == 200)
            _ = try await harness.store.setStatus(login: "sec-admin", .disabled, revocationLifetime: 3600)
            #expect(try await harness.send(.get, "/v1/admin/users", bearer: token).status == 401)
        }
    }

    @Test func fieldErrorsAreReportedTogether() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            let reply = try await harness.send(
                .post, "/v1/admin/users",
                body: harness.json([
                    "login": "bad login!", "email": "attacker@evil.com@logistics.example", "password": "short", "colour": "blue",
                ]), bearer: admin)
            #expect(reply.status == 400)
            #expect(reply.string("error") == "invalid_input")
            let fields = Set((reply.json["fields"] as? [[String: String]] ?? []).compactMap { $0["field"] })
            #expect(fields == ["login", "email", "password", "colour"])
        }
    }

    @Test func listingsArePaginated() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            for n in 0..<5 { try await harness.makeUser("user\(n)") }
            var seen: [String] = []
            var path = "/v1/admin/users?limit=2"
            while true {
                let page = try await harness.send(.get, path, bearer: admin)
                #expect(page.status == 200)
                let logins = (page.json["items"] as? [[String: Any]] ?? []).compactMap { $0["login"] as? String }
                #expect(logins.count <= 2)
                seen += logins
                guard let next = page.string("next") else { break }
                path = "/v1/admin/users?limit=2&after=\(next)"
            }
            #expect(seen == ["sec-admin", "user0", "user1", "user2", "user3", "user4"])
            #expect(try await harness.send(.get, "/v1/admin/users?limit=0", bearer: admin).status == 400)
        }
    }

    @Test func sessionsCanBeListedAndRevoked() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            try await harness.makeUser("ivan")
            let session = try await harness.login("ivan", "correct horse battery staple")
            let id = try #require(session.string("session_id"))
            let listed = try await harness.send(.get, "/v1/admin/sessions?login=ivan", bearer: admin)
            #expect((listed.json["items"] as? [[String: Any]])?.first?["id"] as? String == id)
            #expect(try await harness.send(.delete, "/v1/admin/sessions/\(id)", bearer: admin).status == 200)
            let refresh = try #require(session.string("refresh_token"))
            #expect(try await harness.token(form: "grant_type=refresh_token&refresh_token=\(refresh)").status == 400)
            #expect(try await harness.auditEvents(action: "session.revoke").count == 1)
        }
    }

    @Test func theAuditTrailIsSearchableThroughTheAdminAPI() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            for login in ["ann", "ben", "cat"] {
                _ = try await harness.send(
                    .post, "/v1/admin/users", body: harness.json(["login": login, "email": "\(login)@logistics.example"]),
                    bearer: admin)
            }
            _ = try await harness.auditEvents(action: "user.create")  // waits until the writer has stored everything
            let page = try await harness.send(.get, "/v1/admin/audit?decision=applied&limit=2", bearer: admin)
            #expect(page.status == 200)
            let lines = page.text.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.allSatisfy { $0.contains(#""action":"user.create""#) && $0.contains(#""principal":"User::\"sec-admin\"""#) })
            let cursor = try #require(page.headers[HTTPField.Name("X-Next-Cursor")!])
            let rest = try await harness.send(.get, "/v1/admin/audit?decision=applied&limit=2&after=\(cursor)", bearer: admin)
            #expect(rest.text.split(separator: "\n").count == 1)
            #expect(try await harness.send(.get, "/v1/admin/audit?since=yesterday", bearer: admin).status == 400)
            try await harness.makeUser("driver9", roles: ["driver"])
            let driver = try #require(try await harness.login("driver9", "correct horse battery staple").string("access_token"))
            #expect(try await harness.send(.get, "/v1/admin/audit", bearer: driver).status == 403)
        }
    }
}
