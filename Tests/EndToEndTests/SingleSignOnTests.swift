import Foundation
import TestSupport
import Testing

/// One sign-in for every route host (issue 20), with curl as the browser over real TLS against
/// `portcullis serve` and PostgreSQL: the sign-in host's form, one-time codes redeemed by each
/// route host into a cookie of its own, sign-out that ends them all, and the attacks on each step.
@Suite(.serialized) struct SingleSignOnTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
            - id: fleet
              hosts: [fleet.localhost]
              path: /
              upstream: UPSTREAM
            - id: billing
              hosts: [billing.localhost]
              path: /
              upstream: UPSTREAM
        """

    static let policies = [
        "logistics.cedar": """
        @id("dispatchers-read-everything")
        permit (principal in Role::"dispatcher", action in Action::"read", resource);
        """
    ]

    static let auth = GatewayFixture.signInHost

    /// The Location of a reply, without the origin when it is `host` on the gateway's port.
    static func location(_ reply: GatewayFixture.Reply, on host: String, in gateway: GatewayFixture) -> String? {
        reply.header("location").map { $0.replacingOccurrences(of: "https://\(host):\(gateway.gatewayPort)", with: "") }
    }

    /// `audit search` with `arguments`, once what it prints satisfies `done` (the writer stores
    /// events a moment after the request), or after 10 s.
    static func audit(_ gateway: GatewayFixture, _ arguments: [String], until done: (String) -> Bool) async throws -> String {
        var found = ""
        for _ in 0..<100 {
            found = try await gateway.cli(["audit", "search"] + arguments)
            if done(found) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return found
    }

    /// A fresh sign-on code for `host` from a browser signed in on the sign-in host.
    static func code(for host: String, _ session: GatewayFixture.BrowserSession, in gateway: GatewayFixture) throws -> String {
        let issued = try gateway.curl("/.portcullis/sso?host=\(host)&next=%2Fv1%2Fshipments", session.options, host: auth)
        #expect(issued.status == 303 && issued.header("referrer-policy") == "no-referrer", "\(issued.status) \(issued.body)")
        let location = try #require(issued.header("location"))
        return try #require(location.firstMatch(of: /code=([^&]+)/).map { String($0.1) }, "\(location)")
    }

    @Test func oneSignInOpensEveryRouteHostAndSignOutEndsThemAll() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let session = try gateway.signIn("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            #expect(session.setCookie.contains("Secure") && session.setCookie.contains("HttpOnly") && session.setCookie.contains("SameSite=Lax"))
            #expect(session.setCookie.contains("Path=/") && !session.setCookie.lowercased().contains("domain="))
            #expect(try gateway.curl("/v1/shipments", session.options).status == 200)

            // Fleet: sent to the sign-in host, which knows the browser and sends it straight back
            // with a code; no form on the way.
            let fleet = try gateway.curl("/v1/vehicles?page=2", session.options + ["-L"], host: "fleet.localhost")
            #expect(fleet.status == 200 && !fleet.body.contains("password"), "\(fleet.status) \(fleet.body)")
            #expect(fleet.headers.filter { $0.name == "location" }.count == 3, "route → sign-in host → callback → page: \(fleet.headers)")
            #expect(gateway.upstreamRequests().last?["target"] as? String == "/v1/vehicles?page=2")
            let forwarded = (gateway.upstreamRequests().last?["headers"] as? [[String]] ?? []).map { $0[0] }
            #expect(!forwarded.contains("cookie"), "a session cookie must never reach an upstream")
            let fleetCookie = try #require(fleet.headers.first { $0.name == "set-cookie" && $0.value.hasPrefix("__Host-portcullis=") }?.value)
            #expect(fleetCookie != session.setCookie, "each host gets a cookie of its own")

            // Sign-out on the sign-in host (a page with a form: a GET never signs out).
            let confirm = try gateway.curl("/.portcullis/logout", session.options, host: Self.auth)
            #expect(confirm.status == 200 && confirm.body.contains("Sign out everywhere"))
            #expect(try gateway.curl("/v1/vehicles", session.options, host: "fleet.localhost").status == 200)
            // A route host's sign-out is sent on to the sign-in host.
            let onRoute = try gateway.curl("/.portcullis/logout", session.options, host: "fleet.localhost")
            #expect(onRoute.status == 303 && Self.location(onRoute, on: Self.auth, in: gateway) == "/.portcullis/logout")
            let signedOut = try gateway.curl(
                "/.portcullis/logout", session.options + ["--data-urlencode", "csrf=\(session.csrf)"], host: Self.auth)
            #expect(signedOut.status == 303 && signedOut.header("location") == "/.portcullis/login")
            // Every host's cookie of the session stops at once.
            for host in ["shipments.localhost", "fleet.localhost"] {
                let after = try gateway.curl("/v1/shipments", session.options, host: host)
                #expect(after.status == 302, "\(host) still answers \(after.status) after sign-out")
            }
            let replayed = try gateway.curl("/v1/shipments", ["-H", "cookie: __Host-portcullis=\(session.cookie)"])
            #expect(replayed.status == 401, "a copied cookie of a signed-out session")

            let actions = [#""action":"login""#, #""action":"sso.code.issue""#, #""action":"sso.code.redeem""#, #""action":"logout""#]
            let audit = try await Self.audit(gateway, ["--principal", "dana", "--limit", "200"]) { found in
                actions.allSatisfy(found.contains) && found.contains("signed out; session")
            }
            // One identity session for every host: one sign-in, however many tools.
            let signIns = audit.split(separator: "\n").filter { $0.contains(#""action":"login""#) && $0.contains(#""outcome":"success""#) }
            #expect(signIns.count == 1, "\(signIns)")
            for action in actions {
                #expect(audit.contains(action), "no \(action) in the audit trail")
            }
            #expect(audit.contains("signed out; session"), "the sign-out request's record")
        }
    }

    /// A code is single use, expires, is bound to the host it was issued for and to its session;
    /// every refusal is audited with why.
    @Test func signOnCodesAreSingleUseAndBoundToTheirHostAndSession() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let session = try gateway.signIn("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let fresh = ["-H", "accept: text/html"]
            func redeem(_ code: String, on host: String) throws -> GatewayFixture.Reply {
                try gateway.curl("/.portcullis/sso/callback?code=\(code)&next=%2Fv1%2Fshipments", fresh, host: host)
            }

            // A cookie planted before (an attacker's own session: fixation) is replaced by the redemption.
            let planted = try gateway.signIn("mallory", try await gateway.createUser("mallory", roles: ["dispatcher"])).cookie
            let once = try Self.code(for: "shipments.localhost", session, in: gateway)
            let redeemed = try gateway.curl(
                "/.portcullis/sso/callback?code=\(once)&next=%2Fv1%2Fshipments", fresh + ["-H", "cookie: __Host-portcullis=\(planted)"])
            #expect(redeemed.status == 303 && redeemed.header("location") == "/v1/shipments")
            let issued = try #require(redeemed.headers.first { $0.name == "set-cookie" && $0.value.hasPrefix("__Host-portcullis=v4.local.") }?.value)
            #expect(!issued.contains(planted), "the planted cookie was kept")
            let replay = try redeem(once, on: "shipments.localhost")
            #expect(replay.status == 400 && !replay.headers.contains { $0.name == "set-cookie" }, "a replayed code")

            let forShipments = try Self.code(for: "shipments.localhost", session, in: gateway)
            #expect(try redeem(forShipments, on: "billing.localhost").status == 400, "a code used on another host")
            #expect(try redeem(forShipments, on: "shipments.localhost").status == 400, "tried on the wrong host, the code is spent")

            #expect(try redeem("pco_" + String(repeating: "A", count: 43), on: "shipments.localhost").status == 400, "a forged code")
            #expect(try redeem("", on: "shipments.localhost").status == 400)

            let beforeSignOut = try Self.code(for: "fleet.localhost", session, in: gateway)
            _ = try gateway.curl("/.portcullis/logout", session.options + ["--data-urlencode", "csrf=\(session.csrf)"], host: Self.auth)
            #expect(try redeem(beforeSignOut, on: "fleet.localhost").status == 400, "a code used after sign-out")
            // Signed out, the sign-in host issues no code: it asks to sign in.
            let again = try gateway.curl("/.portcullis/sso?host=fleet.localhost&next=%2F", session.options, host: Self.auth)
            #expect(again.status == 303 && again.header("location")?.hasPrefix("/.portcullis/login?next=") == true)

            let reasons = ["unknown or already used", "issued for shipments.localhost, presented on billing.localhost", "its session has ended"]
            let audit = try await Self.audit(gateway, ["--decision", "failure", "--limit", "100"]) { found in reasons.allSatisfy(found.contains) }
            for why in reasons {
                #expect(audit.contains(why), "no refusal '\(why)' in \(audit)")
            }
        }
    }

    /// The open-redirect forms of the reference list (security-bypass-classes.md §4.4) each
    /// endpoint's `next` is tried with.
    static let openRedirectForms = [
        "//evil.example", "/\\evil.example", "/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example", "/%5cevil.example",
        "/%2f%2fevil.example", "https://evil.example", "/https://evil.example", "/./..//evil.example", "/x/..//evil.example",
        "%2F%2Fevil.example", "javascript:alert(1)", "@evil.example", "/%20/evil.example",
    ]

    /// Every open-redirect form of the reference list (security-bypass-classes.md §4.4) on each
    /// new endpoint that redirects: the `next` of single sign-on, of the callback and of the
    /// sign-in page, and the target host of single sign-on.
    @Test func noEndpointRedirectsOffTheGatewaysHosts() async throws {
        let forms = Self.openRedirectForms
        let hosts = [
            "evil.example", "shipments.localhost.evil.example", "evil.example/shipments.localhost", "shipments.localhost@evil.example",
            "SHIPMENTS.localhost", "shipments.localhost:443", "shipments.localhost.", "%2F%2Fevil.example", "auth.localhost", "",
            "a/b.localhost", "localhost",
        ]
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let session = try gateway.signIn("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            for form in forms {
                let escaped = form.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let signOn = try gateway.curl("/.portcullis/sso?host=shipments.localhost&next=\(escaped)", session.options, host: Self.auth)
                let callback = try #require(signOn.header("location"), "\(form): \(signOn.status)")
                #expect(
                    callback.hasPrefix("https://shipments.localhost:\(gateway.gatewayPort)/") && callback.hasSuffix("&next=%2F"),
                    "\(form) → \(callback)")
                let code = try #require(callback.firstMatch(of: /code=([^&]+)/).map { String($0.1) })
                let redeemed = try gateway.curl("/.portcullis/sso/callback?code=\(code)&next=\(escaped)", ["-H", "accept: text/html"])
                #expect(redeemed.status == 303 && redeemed.header("location") == "/", "callback with next=\(form)")
                let login = try gateway.curl("/.portcullis/login?next=\(escaped)", session.options, host: Self.auth)
                #expect(login.status == 303 && login.header("location") == "/.portcullis/", "login with next=\(form)")
            }
            for host in hosts {
                let escaped = host.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let refused = try gateway.curl("/.portcullis/sso?host=\(escaped)&next=%2F", session.options, host: Self.auth)
                #expect(refused.status == 400 && refused.header("location") == nil, "single sign-on to host \(host) answered \(refused.status)")
            }
            // A sign-in form may end on the route host it signs in for (CSP form-action covers the
            // redirects after a submission), and on no other.
            let anonymous = ["-H", "accept: text/html"]
            let forFleet = try gateway.curl(
                "/.portcullis/login?next=%2F.portcullis%2Fsso%3Fhost%3Dfleet.localhost%26next%3D%252F", anonymous, host: Self.auth)
            #expect(
                forFleet.header("content-security-policy")?.contains("form-action 'self' https://fleet.localhost:\(gateway.gatewayPort);") == true)
            let forEvil = try gateway.curl(
                "/.portcullis/login?next=%2F.portcullis%2Fsso%3Fhost%3Devil.example%26next%3D%252F", anonymous, host: Self.auth)
            #expect(forEvil.header("content-security-policy")?.contains("form-action 'self';") == true, "\(forEvil.headers)")
            #expect(gateway.upstreamRequests().isEmpty)
        }
    }

    /// Sign-out is a POST with this host's CSRF token from this origin; anything else is refused
    /// and the session stays.
    @Test func signOutRefusesCrossSiteRequests() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let session = try gateway.signIn("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let withoutToken = try gateway.curl("/.portcullis/logout", session.options + ["-d", ""], host: Self.auth)
            #expect(withoutToken.status == 403)
            let wrongToken = try gateway.curl("/.portcullis/logout", session.options + ["--data-urlencode", "csrf=forged"], host: Self.auth)
            #expect(wrongToken.status == 403)
            let crossSite = try gateway.curl(
                "/.portcullis/logout",
                session.options + ["-H", "origin: https://shipments.localhost:\(gateway.gatewayPort)", "--data-urlencode", "csrf=\(session.csrf)"],
                host: Self.auth)
            #expect(crossSite.status == 403, "a post from a route host's page")
            #expect(try gateway.curl("/v1/shipments", session.options).status == 200, "the session survived every forged sign-out")
            let audit = try await Self.audit(gateway, ["--route", "portcullis-sign-in", "--decision", "deny", "--limit", "50"]) { found in
                found.contains("form post without this host's CSRF token")
            }
            #expect(audit.contains("form post without this host's CSRF token"), "\(audit)")
        }
    }

    /// A one-time password works once, and only to choose a new one; that ends every earlier
    /// session, and the JSON API follows the same rule.
    @Test func aOneTimePasswordForcesANewOneAndEndsEarlierSessions() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let earlier = try gateway.signIn("dana", try await gateway.createUser("dana", roles: ["dispatcher"]))
            let output = try await gateway.cli(["user", "passwd", "dana"])
            let oneTime = try #require(output.firstMatch(of: /one-time password \(shown once\): (\S+)/).map { String($0.1) }, "\(output)")
            var ended = 0
            for _ in 0..<50 where ended != 302 {
                ended = try gateway.curl("/v1/shipments", earlier.options).status
                if ended != 302 { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(ended == 302, "the session opened before the reset still works")

            let jar = gateway.directory.appendingPathComponent("one-time.txt").path
            let browser = ["-b", jar, "-c", jar, "-H", "accept: text/html"]
            let form = try gateway.curl("/.portcullis/login", browser, host: Self.auth)
            let csrf = try #require(form.body.firstMatch(of: /name="csrf" value="([^"]+)"/).map { String($0.1) })
            func post(_ page: String, _ fields: [String: String]) throws -> GatewayFixture.Reply {
                try gateway.curl(
                    "/.portcullis/\(page)",
                    browser
                        + (fields.merging(["csrf": csrf]) { $1 }).sorted { $0.key < $1.key }.flatMap {
                            ["--data-urlencode", "\($0.key)=\($0.value)"]
                        },
                    host: Self.auth)
            }
            let step = try post("login", ["login": "dana", "password": oneTime])
            #expect(step.status == 200 && step.body.contains("Choose a new password"), "\(step.body)")
            #expect(!step.headers.contains { $0.name == "set-cookie" && $0.value.hasPrefix("__Host-portcullis=") }, "no session yet")
            let challenge = try #require(step.body.firstMatch(of: /name="challenge" value="([^"]+)"/).map { String($0.1) })
            let short = try post("password", ["challenge": challenge, "new_password": "short"])
            #expect(short.status == 400 && short.body.contains("at least 12 characters"), "\(short.body)")
            let same = try post("password", ["challenge": challenge, "new_password": oneTime])
            #expect(same.status == 400 && same.body.contains("must differ"), "\(same.body)")
            let chosen = try post("password", ["challenge": challenge, "new_password": "dana-chose-this-2026"])
            #expect(chosen.status == 303 && chosen.headers.contains { $0.name == "set-cookie" && $0.value.hasPrefix("__Host-portcullis=v4") })

            // The one-time password is gone; the chosen one signs in without another step.
            #expect(try post("login", ["login": "dana", "password": oneTime]).status == 401)
            #expect(try gateway.accessToken("dana", "dana-chose-this-2026").hasPrefix("v4.public."))

            // The JSON API: a one-time password gives a challenge, not a session.
            let reset = try await gateway.cli(["user", "passwd", "dana"])
            let apiOneTime = try #require(reset.firstMatch(of: /one-time password \(shown once\): (\S+)/).map { String($0.1) })
            let login = try GatewayFixture.curl([
                "-H", "content-type: application/json", "-d", #"{"login":"dana","password":"\#(apiOneTime)"}"#,
                "http://127.0.0.1:\(gateway.identityPort)/v1/login",
            ])
            #expect(login.status == 401 && login.json["error"] as? String == "password_change_required" && login.json["access_token"] == nil)
            let apiChallenge = try #require(login.json["challenge"] as? String)
            let changed = try GatewayFixture.curl([
                "-H", "content-type: application/json", "-d", #"{"challenge":"\#(apiChallenge)","new_password":"dana-api-choice-2026"}"#,
                "http://127.0.0.1:\(gateway.identityPort)/v1/login/password",
            ])
            #expect(changed.status == 200 && changed.json["access_token"] is String, "\(changed.body)")
            let reused = try GatewayFixture.curl([
                "-H", "content-type: application/json", "-d", #"{"challenge":"\#(apiChallenge)","new_password":"dana-again-choice-2026"}"#,
                "http://127.0.0.1:\(gateway.identityPort)/v1/login/password",
            ])
            #expect(reused.status == 401, "a challenge used once")
        }
    }
}
