import Console
import Foundation
import TestSupport
import Testing
import Tokens

/// The admin console served by a real gateway over TLS, with curl as the browser: who may open
/// it (every console URL, from the console's own page list), CSRF, the security headers,
/// escaping, and the audit record of a change made in it.
@Suite(.serialized) struct ConsoleTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
        """

    /// The shipped admin rules (with the console's) and a shipments rule for dispatchers.
    static var policies: [String: String] {
        [
            "identity-admin.cedar": ConsoleSession.repositoryFile("policies/identity-admin.cedar"),
            "schema.cedarschema": PolicyFixtures.schema,
            "shipments.cedar": """
            @id("shipments.dispatchers-read")
            permit (principal in Role::"dispatcher", action == Action::"GET", resource == Route::"shipments")
            when { context.http.path like "/v1/shipments*" };
            """,
        ]
    }

    @Test func onlySecurityAdminsWithMFAOpenTheConsole() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let danaPassword = try await gateway.createUser("dana", roles: ["dispatcher"])
            let alexPassword = try await gateway.createUser("alex", roles: ["security-admin"])

            let anonymous = try gateway.curl(AdminConsole.prefix + "policies", ["-H", "accept: text/html"], host: ConsoleSession.host)
            #expect(anonymous.status == 302)
            #expect(anonymous.header("location") == "/.portcullis/login?next=%2F.portcullis%2Fadmin%2Fpolicies")
            // Only on the sign-in host: on a route host the console does not exist.
            #expect(try gateway.curl(AdminConsole.prefix + "policies", ["-H", "accept: text/html"]).status == 404)

            // A dispatcher is refused every console URL, reads and changes alike.
            let dana = try ConsoleSession.login(gateway, "dana", danaPassword, totpSecret: nil)
            #expect(AdminConsole.pages.count > 25)
            for page in AdminConsole.pages {
                let path = AdminConsole.prefix + ConsoleSession.sample(page.path)
                let reply = page.method == .post ? try dana.post(path, ["csrf": "0"]) : try dana.get(path)
                #expect(reply.status == 403, "\(page.method) \(path) answered \(reply.status)")
            }
            #expect(try dana.get(AdminConsole.prefix + "no-such-page").status == 403)

            // A security administrator without a second factor is refused too.
            let alex = try ConsoleSession.login(gateway, "alex", alexPassword, totpSecret: nil)
            #expect(try alex.get(AdminConsole.prefix + "policies").status == 403)
            #expect(try alex.get(AdminConsole.prefix + "users").status == 403)
        }
    }

    @Test func formsNeedTheCSRFTokenOutputIsEscapedAndChangesAreAudited() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let samPassword = try await gateway.createUser("sam", roles: ["security-admin"])
            let secret = try ConsoleSession.enrolTOTP(gateway, "sam", samPassword)
            let sam = try ConsoleSession.login(gateway, "sam", samPassword, totpSecret: secret)

            let page = try sam.get(AdminConsole.prefix + "users")
            #expect(page.status == 200)
            #expect(
                page.header("content-security-policy") == "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                    + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
            #expect(page.header("x-content-type-options") == "nosniff")
            #expect(page.header("referrer-policy") == "no-referrer")
            #expect(page.header("cache-control") == "no-store")
            #expect(!page.body.contains("<script>") && !page.body.contains(" style="), "no inline script or style")
            let csrf = try #require(page.body.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/).map { String($0.1) })

            let unknownRole = ["csrf": csrf, "login": "eve", "email": "eve@logistics.example", "roles": "no-such-role"]
            #expect(try sam.post(AdminConsole.prefix + "users", unknownRole).status == 404)
            #expect(try sam.get(AdminConsole.prefix + "users/eve").status == 404, "a refused creation leaves no account behind")
            _ = try await gateway.cli(["role", "add", "dispatcher"])
            let form = ["login": "mallory", "email": "mallory@logistics.example", "display_name": "<script>alert(1)</script>", "roles": "dispatcher"]
            #expect(try sam.post(AdminConsole.prefix + "users", form).status == 403, "a form without the CSRF token is refused")
            #expect(try sam.post(AdminConsole.prefix + "users", form.merging(["csrf": String(csrf.reversed())]) { $1 }).status == 403)
            #expect(
                try sam.post(
                    AdminConsole.prefix + "users", form.merging(["csrf": csrf]) { $1 },
                    ["-H", "origin: https://evil.example"]
                ).status == 403, "a cross-site post is refused")
            #expect(try sam.get(AdminConsole.prefix + "users/mallory").status == 404, "refused posts change nothing")
            let check = try sam.post(AdminConsole.prefix + "policies/check", json: #"{"base":1,"files":{}}"#, csrf: nil)
            #expect(check.status == 403, "a JSON post without the X-CSRF-Token header is refused")

            let created = try sam.post(AdminConsole.prefix + "users", form.merging(["csrf": csrf]) { $1 })
            #expect(created.status == 200)
            #expect(created.body.contains("one-time password for mallory"))
            #expect(created.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!created.body.contains("<script>alert(1)"), "a display name is rendered inert")
            let list = try sam.get(AdminConsole.prefix + "users")
            #expect(list.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !list.body.contains("<script>alert(1)"))

            // The change is in the audit trail with the administrator as actor (the console's own export).
            var record: [String: Any]?
            for _ in 0..<100 where record == nil {
                let export = try sam.get(AdminConsole.prefix + "audit/export?format=jsonl&route=portcullis-console&decision=applied")
                record = export.body.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    .first { $0["action"] as? String == "user.create" }
                if record == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let change = try #require(record)
            #expect(change["principal"] as? String == #"User::"sam""#)
            #expect(change["auth_method"] as? String == "session")
            #expect(change["target"] as? String == #"User::"mallory""#)
            #expect(change["kind"] as? String == "admin")
            #expect((change["policies"] as? [String]) == ["console.security-admins-with-mfa"])
            // And the request that carried it is an access record of the console route.
            let access = try sam.get(AdminConsole.prefix + "audit/export?format=csv&route=portcullis-console&decision=allow")
            #expect(access.body.hasPrefix("v,id,time,kind,"))
            #expect(access.body.contains(#"POST,portcullis-console,/.portcullis/admin/users"#))
        }
    }
}

extension ConsoleTests {
    /// Issue 24, item 4: the verification page runs what `audit verify --anchors` runs and keeps
    /// the result; searches in the console, the admin API and `audit search` mark each record by its
    /// chain; a result altered in the database is not believed.
    @Test func theVerificationPageAndMarksOnRecordsOfABrokenChain() async throws {
        try #require(ConsoleBrowserTests.pythonHas("psycopg"), "psycopg is required (scripts/test installs it)")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes, auditLines: ["checkpoint_interval: 1s"]) { gateway in
            let samPassword = try await gateway.createUser("sam", roles: ["security-admin"])
            let token = try gateway.accessToken("sam", samPassword)  // before MFA enrolment: for the admin API
            let sam = try ConsoleSession.login(gateway, "sam", samPassword, totpSecret: try ConsoleSession.enrolTOTP(gateway, "sam", samPassword))
            let page = try sam.get(AdminConsole.prefix + "audit/verification")
            #expect(page.status == 200 && page.body.contains(#"data-state="none""#), "\(page.body)")
            let csrf = try #require(page.body.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/).map { String($0.1) })
            #expect(try sam.post(AdminConsole.prefix + "audit/verification", ["csrf": "0"]).status == 403, "Verify now needs the CSRF token")

            let denied = try gateway.curl("/v1/shipments", ["-H", "authorization: Bearer \(token)"])
            #expect(denied.status == 403)
            let requestID = try #require(denied.json["request_id"] as? String)
            _ = try await gateway.auditSearch(["--request-id", requestID]) { $0.contains(requestID) }
            try await Task.sleep(for: .milliseconds(2_500))  // checkpointed

            let run = try sam.post(AdminConsole.prefix + "audit/verification", ["csrf": csrf])
            #expect(run.status == 303 && run.header("location") == AdminConsole.prefix + "audit/verification")
            let clean = try sam.get(AdminConsole.prefix + "audit/verification")
            #expect(clean.body.contains(#"data-state="intact""#) && clean.body.contains("by User::&quot;sam&quot;"), "\(clean.body)")
            #expect(clean.body.contains(gateway.anchorFile), "the anchors in use are named")
            let marked = try sam.get(AdminConsole.prefix + "audit?request_id=\(requestID)")
            #expect(marked.body.contains(#"<td class="chain-verified">verified</td>"#), "\(marked.body)")

            // The database adversary turns the denial into an allow and re-hashes the chain.
            _ = try AuditAdversaryTests.adversary(gateway, ["flip", "--request-id", requestID])
            #expect(try sam.post(AdminConsole.prefix + "audit/verification", ["csrf": csrf]).status == 303)
            let broken = try sam.get(AdminConsole.prefix + "audit/verification")
            #expect(broken.body.contains(#"data-state="broken""#) && broken.body.contains("differs from its anchor"), "\(broken.body)")
            let row = try sam.get(AdminConsole.prefix + "audit?request_id=\(requestID)")
            #expect(row.body.contains(#"<td class="chain-broken">broken</td>"#) && row.body.contains("class=\"verification once\""), "\(row.body)")
            let event = try sam.get(AdminConsole.prefix + "audit/requests/\(requestID)")
            #expect(event.body.contains("do not trust it"), "\(event.body)")
            // The same mark through the admin API and `audit search`.
            let admin = try GatewayFixture.curl([
                "-H", "authorization: Bearer \(token)", "http://127.0.0.1:\(gateway.identityPort)/v1/admin/audit?request_id=\(requestID)",
            ])
            #expect(admin.body.contains(#""chain":"broken""#) && admin.body.contains(#""outcome":"allow""#), "\(admin.body)")
            let searched = try await gateway.cli(["audit", "search", "--request-id", requestID])
            #expect(searched.contains(#""chain":"broken""#), "\(searched)")

            // A reassuring result written into the database by the adversary is not believed.
            _ = try await gateway.sql("UPDATE audit_verifications SET result = replace(result, '\"finding_count\":', '\"finding_count\":0,\"x\":')")
            let forged = try sam.get(AdminConsole.prefix + "audit/verification")
            #expect(forged.body.contains(#"data-state="untrusted""#), "\(forged.body)")
            #expect(
                try sam.get(AdminConsole.prefix + "audit?request_id=\(requestID)").body.contains(#"<td class="chain-unverified">unverified</td>"#))
        }
    }
}

/// A browser session on the console, with curl: a cookie jar, the login form and its MFA step.
struct ConsoleSession {
    let gateway: GatewayFixture
    let jar: String

    static let host = GatewayFixture.signInHost

    static func repositoryFile(_ path: String) -> String {
        try! String(contentsOfFile: repositoryPath(path), encoding: .utf8)
    }

    /// A file of the repository, by its path from the root.
    static func repositoryPath(_ path: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(path).path
    }

    /// A page path with sample values for its parameters.
    static func sample(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            switch segment {
            case ":version": "1"
            case ":id": "0f8fad5b-d9cb-469f-a165-70867728950e"
            case ":serial": "01"
            case ":name" where path.hasPrefix("assets/"): "console.css"
            case let other where other.hasPrefix(":"): "sample"
            default: String(segment)
            }
        }.joined(separator: "/")
    }

    /// Starts TOTP enrolment at the identity service and confirms it with the code of the previous
    /// step, so the current step's code is still unused for the login that follows.
    static func enrolTOTP(_ gateway: GatewayFixture, _ login: String, _ password: String) throws -> String {
        let token = try gateway.accessToken(login, password)
        let begin = try GatewayFixture.curl([
            "-X", "POST", "-H", "authorization: Bearer \(token)", "http://127.0.0.1:\(gateway.identityPort)/v1/mfa/totp",
        ])
        let secret = try #require(begin.json["secret"] as? String)
        let totp = TOTP(secret: try #require(Base32.decode(secret)))
        func confirm() throws -> GatewayFixture.Reply {
            let code = totp.code(forStep: TOTP.step(at: Date()) - 1)
            return try GatewayFixture.curl([
                "-H", "authorization: Bearer \(token)", "-H", "content-type: application/json",
                "-d", #"{"code":"\#(code)"}"#, "http://127.0.0.1:\(gateway.identityPort)/v1/mfa/totp/confirm",
            ])
        }
        // A step may turn over between reading the clock and the service checking the code (on a
        // loaded machine the request can take seconds): then the code of the new previous step.
        var confirmed = try confirm()
        if confirmed.status == 400 { confirmed = try confirm() }
        #expect(confirmed.status == 200, "enrolment: \(confirmed.body)")
        return secret
    }

    /// Logs in through `/.portcullis/login` (and `/.portcullis/mfa` with the current TOTP code).
    static func login(_ gateway: GatewayFixture, _ login: String, _ password: String, totpSecret: String?) throws -> ConsoleSession {
        let session = ConsoleSession(gateway: gateway, jar: gateway.directory.appendingPathComponent("cookies-\(login).txt").path)
        let form = try session.get("/.portcullis/login")
        let csrf = try #require(form.body.firstMatch(of: /name="csrf" value="([^"]+)"/).map { String($0.1) })
        var reply = try session.post("/.portcullis/login", ["csrf": csrf, "login": login, "password": password, "next": "/"])
        if let totpSecret {
            let challenge = try #require(reply.body.firstMatch(of: /name="challenge" value="([^"]+)"/).map { String($0.1) })
            let code = TOTP(secret: try #require(Base32.decode(totpSecret))).code(at: Date())
            reply = try session.post("/.portcullis/mfa", ["csrf": csrf, "challenge": challenge, "code": code, "next": "/"])
        }
        #expect(reply.status == 303, "login of \(login): \(reply.status) \(reply.body)")
        return session
    }

    func get(_ path: String) throws -> GatewayFixture.Reply {
        try gateway.curl(path, ["-b", jar, "-c", jar, "-H", "accept: text/html"], host: Self.host)
    }

    func post(_ path: String, _ fields: [String: String], _ extra: [String] = []) throws -> GatewayFixture.Reply {
        try gateway.curl(
            path,
            ["-b", jar, "-c", jar, "-H", "accept: text/html"] + extra
                + fields.sorted { $0.key < $1.key }.flatMap { ["--data-urlencode", "\($0.key)=\($0.value)"] }, host: Self.host)
    }

    func post(_ path: String, json: String, csrf: String?) throws -> GatewayFixture.Reply {
        try gateway.curl(
            path,
            ["-b", jar, "-c", jar, "-H", "content-type: application/json", "-d", json]
                + (csrf.map { ["-H", "x-csrf-token: \($0)"] } ?? []), host: Self.host)
    }
}
