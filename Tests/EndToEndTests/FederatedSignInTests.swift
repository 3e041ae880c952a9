import Console
import Foundation
import TestSupport
import Testing

/// Sign-in through a real OpenID provider nobody here wrote (issue 21): django-oauth-toolkit with
/// OpenID Connect on (`deploy/demo/oidc_provider.py`), curl as the browser, `portcullis serve` with
/// PostgreSQL as the relying party.
@Suite(.serialized) struct FederatedSignInTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: UPSTREAM
        """

    static let policies = [
        "logistics.cedar": """
        @id("dispatchers-read-shipments")
        permit (principal in Role::"dispatcher", action in Action::"read", resource == Route::"shipments");
        """
    ]

    /// A running provider: its issuer, its signing key (to sign as it does) and how to stop it.
    struct Provider {
        let process: Process
        let port: Int
        let keyFile: String
        var issuer: String { "http://127.0.0.1:\(port)/o" }

        /// SIGKILL: the child inherits the test runner's signal mask, in which SIGTERM may be blocked.
        func stop() { kill(process.processIdentifier, SIGKILL) }

        /// Registers the gateway's callback as the client's one redirect URI.
        func register(redirectURI: String) throws {
            let reply = try GatewayFixture.curl(["-X", "POST", "--data-binary", redirectURI, "http://127.0.0.1:\(port)/test/redirect-uris"])
            #expect(reply.status == 200)
        }
    }

    /// Starts the provider with `users` and the client `portcullis` (its secret in `secretFile`).
    static func provider(_ users: [[String: Any]], secretFile: URL, in directory: URL) async throws -> Provider {
        let usersFile = directory.appendingPathComponent("provider-users-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: users).write(to: usersFile)
        let portFile = directory.appendingPathComponent("provider-\(UUID().uuidString).port")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ConsoleBrowserTests.python)
        process.arguments = [
            ConsoleSession.repositoryPath("deploy/demo/oidc_provider.py"),
            "--port-file", portFile.path, "--state", directory.appendingPathComponent("provider-\(UUID().uuidString)").path,
            "--client-id", "portcullis", "--client-secret-file", secretFile.path, "--users", usersFile.path,
            "--key-file", directory.appendingPathComponent("provider-\(portFile.lastPathComponent).pem").path,
        ]
        let log = directory.appendingPathComponent("provider.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, handle, handle)
        try process.run()
        for _ in 0..<600 {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) {
                return Provider(
                    process: process, port: port, keyFile: directory.appendingPathComponent("provider-\(portFile.lastPathComponent).pem").path)
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(process.processIdentifier, SIGKILL)
        throw PortcullisProcess.Failure(description: "the OpenID provider did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    static func federation(
        _ providers: [(id: String, issuer: String)], secretFile: String, extra: String = "", localSignInRoles: [String]? = nil
    ) -> String {
        "federation:\n" + (localSignInRoles.map { "  local_sign_in_roles: [\($0.joined(separator: ", "))]\n" } ?? "") + "  providers:\n"
            + providers.map { provider in
                """
                    - id: \(provider.id)
                      name: \(provider.id.capitalized) SSO
                      issuer: \(provider.issuer)
                      client_id: portcullis
                      client_secret_file: \(secretFile)
                      scopes: [openid, email, profile]
                      create_users: true
                      groups:
                        logistics-dispatch: [role:dispatcher]
                \(extra)

                """
            }.joined()
    }

    /// Providers `ids` (each a django-oauth-toolkit with `users` and the client `portcullis`) and
    /// a gateway federated with them (`extra` lines in each provider's settings), their callbacks
    /// registered and the role `dispatcher` created; all stopped after `body`.
    static func withFederation(
        _ users: [[String: Any]], providers ids: [String] = ["corp"], extra: String = "", localSignInRoles: [String]? = nil,
        routes: String = routes, policies: [String: String] = policies,
        _ body: @Sendable (_ gateway: GatewayFixture, _ providers: [Provider], _ secret: String, _ directory: URL) async throws -> Void
    ) async throws {
        try #require(ConsoleBrowserTests.pythonHas("oauth2_provider"), "django-oauth-toolkit is required (scripts/test installs it)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("federation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = "client-secret-" + UUID().uuidString
        let secretFile = directory.appendingPathComponent("client.secret")
        try secret.write(to: secretFile, atomically: true, encoding: .utf8)
        var providers: [Provider] = []
        defer { for provider in providers { provider.stop() } }
        for _ in ids { providers.append(try await provider(users, secretFile: secretFile, in: directory)) }
        let started = providers
        try await GatewayFixture.run(
            policies: policies, routes: routes,
            sections: federation(
                Array(zip(ids, started.map(\.issuer))), secretFile: secretFile.path, extra: extra, localSignInRoles: localSignInRoles)
        ) { gateway in
            _ = try? await gateway.cli(["role", "add", "dispatcher"])
            for (id, provider) in zip(ids, started) {
                try provider.register(
                    redirectURI: "https://\(GatewayFixture.signInHost):\(gateway.gatewayPort)/.portcullis/federation/\(id)/callback")
            }
            try await body(gateway, started, secret, directory)
        }
    }

    /// Signs in through the provider the way a browser does and returns the last answer (the
    /// route host's page) and every answer's Location on the way.
    static func signIn(
        _ gateway: GatewayFixture, provider: Provider, username: String, password: String, jar: String
    ) throws -> GatewayFixture.Reply {
        let browser = ["-L", "-b", jar, "-c", jar, "-H", "accept: text/html"]
        // shipments → sign-in host → its form, which offers the provider.
        let form = try gateway.curl("/v1/shipments", browser)
        let start = try #require(
            form.body.firstMatch(of: /href="(\/\.portcullis\/federation\/corp\/start\?next=[^"]+)"/).map { String($0.1) }, "\(form.body)")
        // → the provider's sign-in form.
        let providerForm = try gateway.curl(start.replacingOccurrences(of: "&amp;", with: "&"), browser, host: GatewayFixture.signInHost)
        let token = try #require(
            providerForm.body.firstMatch(of: /name="csrfmiddlewaretoken" value="([^"]+)"/).map { String($0.1) }, "\(providerForm.body)")
        let next = try #require(providerForm.body.firstMatch(of: /name="next" value="([^"]+)"/).map { String($0.1) })
        // Signing in at the provider leads back through the callback and single sign-on.
        return try GatewayFixture.curl(
            ["--cacert", "\(gateway.certs)/ca-bundle.crt"]
                + ["shipments.localhost", GatewayFixture.signInHost].flatMap { ["--resolve", "\($0):\(gateway.gatewayPort):127.0.0.1"] } + browser
                + [
                    "--data-urlencode", "username=\(username)", "--data-urlencode", "password=\(password)",
                    "--data-urlencode", "csrfmiddlewaretoken=\(token)", "--data-urlencode",
                    "next=\(next.replacingOccurrences(of: "&amp;", with: "&"))",
                    "http://127.0.0.1:\(provider.port)/accounts/login/",
                ])
    }

    @Test func aPersonSignsInWithTheProviderAndAMappedGroupGrantsARole() async throws {
        let users: [[String: Any]] = [
            ["username": "olga", "password": "olga-at-the-provider-2026", "email": "olga@logistics.example", "groups": ["logistics-dispatch"]],
            ["username": "pete", "password": "pete-at-the-provider-2026", "email": "pete@logistics.example", "groups": ["warehouse"]],
        ]
        try await Self.withFederation(users) { gateway, providers, _, directory in
            let provider = providers[0]

            let olga = try Self.signIn(
                gateway, provider: provider, username: "olga", password: "olga-at-the-provider-2026",
                jar: directory.appendingPathComponent("olga.txt").path)
            #expect(olga.status == 200, "\(olga.status) \(olga.body)")
            let assertion = try #require(gateway.upstreamRequests().last?["headers"] as? [[String]]).first { $0[0] == "x-portcullis-assertion" }?[1]
            let claims = try gateway.pyjwtClaims(try #require(assertion), audience: "shipments")
            #expect(claims["sub"] as? String == "olga" && (claims["roles"] as? [String]) == ["dispatcher"], "\(claims)")

            // Pete's provider group maps to nothing: signed in, with no role, so policy denies.
            let pete = try Self.signIn(
                gateway, provider: provider, username: "pete", password: "pete-at-the-provider-2026",
                jar: directory.appendingPathComponent("pete.txt").path)
            #expect(pete.status == 403, "\(pete.status) \(pete.body)")

            let audit = try await gateway.auditSearch(["--principal", "olga", "--limit", "50"]) {
                $0.contains("federation.create") && $0.contains("fed:corp")
            }
            #expect(audit.contains("federation.create") && audit.contains("fed:corp"), "\(audit)")
        }
    }

    /// Runs the provider's side of a sign-in begun at `start` (a path on the sign-in host), as the
    /// browser would, and stops at the provider's redirect back: the callback URL with its code
    /// and state, and the browser's sealed state cookie.
    static func authorize(
        _ gateway: GatewayFixture, provider: Provider, start: String, username: String, password: String, jar: String
    ) throws -> (callback: String, stateCookie: String) {
        let browser = ["-b", jar, "-c", jar, "-H", "accept: text/html"]
        let started = try gateway.curl(start, browser, host: GatewayFixture.signInHost)
        let authorization = try #require(started.header("location"), "\(started.status) \(started.body)")
        let stateCookie = try #require(
            started.headers.first { $0.name == "set-cookie" && $0.value.hasPrefix("__Host-portcullis-federation=") }?.value
                .dropFirst("__Host-portcullis-federation=".count).prefix { $0 != ";" })
        #expect(authorization.hasPrefix(provider.issuer + "/authorize/?"))
        for parameter in ["code_challenge_method=S256", "code_challenge=", "nonce=", "state=", "response_type=code"] {
            #expect(authorization.contains(parameter), "the authorization request lacks \(parameter)")
        }
        let form = try GatewayFixture.curl(["-L"] + browser + [authorization])
        let token = try #require(form.body.firstMatch(of: /name="csrfmiddlewaretoken" value="([^"]+)"/).map { String($0.1) }, "\(form.body)")
        let next = try #require(form.body.firstMatch(of: /name="next" value="([^"]+)"/).map { String($0.1) })
        let signedIn = try GatewayFixture.curl(
            browser + [
                "--data-urlencode", "username=\(username)", "--data-urlencode", "password=\(password)",
                "--data-urlencode", "csrfmiddlewaretoken=\(token)", "--data-urlencode", "next=\(next.replacingOccurrences(of: "&amp;", with: "&"))",
                "http://127.0.0.1:\(provider.port)/accounts/login/",
            ])
        let back = try GatewayFixture.curl(browser + ["http://127.0.0.1:\(provider.port)" + (try #require(signedIn.header("location")))])
        let callback = try #require(back.header("location"), "\(back.status) \(back.body)")
        return (callback, String(stateCookie))
    }

    /// The provider's answer is accepted only with this browser's state, at the callback of the
    /// provider the sign-in began with, from that provider's issuer, and once; each refusal is
    /// audited. A code taken on its way is worthless without the PKCE verifier.
    @Test func theProvidersAnswerIsCheckedAgainstTheBrowsersState() async throws {
        let olga: [[String: Any]] = [["username": "olga", "password": "olga-at-the-provider-2026", "email": "olga@logistics.example", "groups": []]]
        try await Self.withFederation(olga, providers: ["corp", "other"]) { gateway, providers, secret, directory in
            let (corp, other) = (providers[0], providers[1])
            let origin = "https://\(GatewayFixture.signInHost):\(gateway.gatewayPort)"
            let jar = directory.appendingPathComponent("browser.txt").path
            let (callback, stateCookie) = try Self.authorize(
                gateway, provider: corp, start: "/.portcullis/federation/corp/start?next=%2F.portcullis%2F", username: "olga",
                password: "olga-at-the-provider-2026", jar: jar)
            #expect(callback.hasPrefix(origin + "/.portcullis/federation/corp/callback?code="), "\(callback)")
            let query = String(callback.split(separator: "?", maxSplits: 1)[1])
            let code = try #require(query.firstMatch(of: /code=([^&]+)/).map { String($0.1) })
            let withState = ["-H", "accept: text/html", "-H", "cookie: __Host-portcullis-federation=\(stateCookie)"]
            func deliver(_ path: String, _ headers: [String]) throws -> GatewayFixture.Reply {
                try gateway.curl(path, headers, host: GatewayFixture.signInHost)
            }

            let forgedState = try deliver("/.portcullis/federation/corp/callback?code=\(code)&state=forged", withState)
            #expect(forgedState.status == 403, "a state that is not the browser's")
            let noCookie = try deliver("/.portcullis/federation/corp/callback?" + query, ["-H", "accept: text/html"])
            #expect(noCookie.status == 403, "a callback in a browser that did not begin the sign-in")
            let mixUp = try deliver("/.portcullis/federation/other/callback?" + query, withState)
            #expect(mixUp.status == 403, "corp's answer at other's callback")
            let otherIssuer = try deliver(
                "/.portcullis/federation/corp/callback?" + query + "&iss=" + other.issuer.addingPercentEncoding(
                    withAllowedCharacters: .alphanumerics)!, withState)
            #expect(otherIssuer.status == 403, "an answer naming another issuer (RFC 9207)")
            for refused in [forgedState, noCookie, mixUp, otherIssuer] {
                #expect(!refused.headers.contains { $0.name == "set-cookie" && $0.value.hasPrefix("__Host-portcullis=v4") })
            }

            // Without the PKCE verifier the code is worthless to whoever took it on its way.
            let stolen = try GatewayFixture.curl([
                "-u", "portcullis:\(secret)", "--data-urlencode", "grant_type=authorization_code", "--data-urlencode", "code=\(code)",
                "--data-urlencode", "redirect_uri=\(origin)/.portcullis/federation/corp/callback", "http://127.0.0.1:\(corp.port)/o/token/",
            ])
            #expect(stolen.status == 400 && stolen.json["access_token"] == nil, "\(stolen.status) \(stolen.body)")

            // The real answer, once: signed in. Replayed with the same state: refused.
            let accepted = try deliver("/.portcullis/federation/corp/callback?" + query, withState)
            #expect(accepted.status == 303 && accepted.header("location") == "/.portcullis/", "\(accepted.status) \(accepted.body)")
            #expect(accepted.headers.contains { $0.name == "set-cookie" && $0.value.hasPrefix("__Host-portcullis=v4.local.") })
            let replayed = try deliver("/.portcullis/federation/corp/callback?" + query, withState)
            #expect(replayed.status == 403, "a replayed code")

            let reasons = [
                "the state parameter does not match", "no sign-in state cookie", "the sign-in began with provider corp",
                "authorization response from issuer", "code exchange failed",
            ]
            let audit = try await gateway.auditSearch(["--route", "portcullis-sign-in", "--decision", "deny", "--limit", "100"]) { found in
                reasons.allSatisfy(found.contains)
            }
            for reason in reasons { #expect(audit.contains(reason), "no refusal '\(reason)' audited") }
        }
    }

    /// The open-redirect forms of the reference list as the `next` of a federated sign-in: the
    /// whole round trip through the provider ends on the sign-in host's own pages, never off it.
    /// Unknown or disguised provider ids and a callback without a valid answer redirect nowhere.
    @Test func noFederationEndpointRedirectsOffTheSignInHost() async throws {
        let olga: [[String: Any]] = [["username": "olga", "password": "olga-at-the-provider-2026", "email": "olga@logistics.example", "groups": []]]
        try await Self.withFederation(olga) { gateway, providers, _, directory in
            let jar = directory.appendingPathComponent("browser.txt").path
            let browser = ["-b", jar, "-c", jar, "-H", "accept: text/html"]
            // Signed in at the provider once; it then answers each authorization at once.
            _ = try Self.authorize(
                gateway, provider: providers[0], start: "/.portcullis/federation/corp/start?next=%2F", username: "olga",
                password: "olga-at-the-provider-2026", jar: jar)
            for form in SingleSignOnTests.openRedirectForms {
                let escaped = form.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let started = try gateway.curl("/.portcullis/federation/corp/start?next=\(escaped)", browser, host: GatewayFixture.signInHost)
                let authorization = try #require(started.header("location"), "\(form): \(started.status)")
                #expect(authorization.hasPrefix(providers[0].issuer + "/authorize/?"), "\(form) → \(authorization)")
                let answer = try GatewayFixture.curl(browser + [authorization])
                let callback = try #require(answer.header("location"), "\(form): the provider answered \(answer.status)")
                let path = try #require(callback.firstMatch(of: /^https:\/\/[^\/]+(\/.*)$/).map { String($0.1) }, "\(callback)")
                let landed = try gateway.curl(path, browser, host: GatewayFixture.signInHost)
                #expect(landed.status == 303 && landed.header("location") == "/.portcullis/", "next=\(form) → \(landed.header("location") ?? "")")
            }
            for id in ["..%2Fcorp", "corp%2F..", "CORP", "corp.", "evil"] {
                for step in ["start?next=%2F", "callback?code=x&state=y"] {
                    let refused = try gateway.curl("/.portcullis/federation/\(id)/\(step)", browser, host: GatewayFixture.signInHost)
                    #expect(refused.header("location") == nil && refused.status >= 400, "provider \(id) \(step): \(refused.status)")
                }
            }
            let noAnswer = try gateway.curl(
                "/.portcullis/federation/corp/callback?error=access_denied&state=x", browser, host: GatewayFixture.signInHost)
            #expect(noAnswer.status == 403 && noAnswer.header("location") == nil)
            #expect(gateway.upstreamRequests().isEmpty)
        }
    }

    /// Offboarding: an account disabled at the provider loses its sessions at the next
    /// re-validation (every second here), on every host, and the time is printed.
    @Test func anAccountDisabledAtTheProviderLosesItsSessions() async throws {
        let olga: [[String: Any]] = [
            ["username": "olga", "password": "olga-at-the-provider-2026", "email": "olga@logistics.example", "groups": ["logistics-dispatch"]]
        ]
        try await Self.withFederation(olga, extra: "      revalidate_every: 1s") { gateway, providers, _, directory in
            let provider = providers[0]
            let jar = directory.appendingPathComponent("olga.txt").path
            #expect(try Self.signIn(gateway, provider: provider, username: "olga", password: "olga-at-the-provider-2026", jar: jar).status == 200)
            // Re-validations pass while the account is active.
            try await Task.sleep(for: .seconds(2))
            #expect(try gateway.curl("/v1/shipments", ["-b", jar, "-H", "accept: text/html"]).status == 200)

            let deactivated = try GatewayFixture.curl(["-X", "POST", "http://127.0.0.1:\(provider.port)/test/deactivate/olga"])
            #expect(deactivated.status == 200)
            let start = ContinuousClock.now
            var status = 200
            while status == 200 && ContinuousClock.now - start < .seconds(20) {
                try await Task.sleep(for: .milliseconds(50))
                status = try gateway.curl("/v1/shipments", ["-b", jar, "-H", "accept: text/html"]).status
            }
            print("an account disabled at the provider lost its session \(ContinuousClock.now - start) later (re-validation every 1 s)")
            #expect(status == 302, "the session outlived the provider's offboarding: \(status)")
            let audit = try await gateway.auditSearch(["--principal", "olga", "--limit", "50"]) { $0.contains("federation.session_ended") }
            #expect(audit.contains("federation.session_ended") && audit.contains("refused the refresh"), "\(audit)")
        }
    }

    /// A logout token signed with the provider's key (PyJWT), with `claims` over the standard ones.
    static func logoutToken(_ provider: Provider, subject: String, _ claims: [String: Any] = [:]) throws -> String {
        let jwks = try GatewayFixture.curl(["http://127.0.0.1:\(provider.port)/o/.well-known/jwks.json"])
        let kid = try #require(((jwks.json["keys"] as? [[String: Any]])?.first)?["kid"] as? String)
        var payload: [String: Any] = [
            "iss": provider.issuer, "aud": "portcullis", "iat": Int(Date().timeIntervalSince1970), "jti": UUID().uuidString, "sub": subject,
            "events": ["http://schemas.openid.net/event/backchannel-logout": [String: String]()],
        ]
        payload.merge(claims) { $1 }
        let script = """
            import json, sys, jwt
            key = open(sys.argv[1]).read()
            print(jwt.encode(json.loads(sys.argv[2]), key, algorithm="RS256", headers={"kid": sys.argv[3]}))
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: ConsoleBrowserTests.python)
        python.arguments = [
            "-c", script, provider.keyFile, String(decoding: try JSONSerialization.data(withJSONObject: payload), as: UTF8.self), kid,
        ]
        let output = Pipe()
        (python.standardInput, python.standardOutput) = (FileHandle.nullDevice, output)
        try python.run()
        let data = output.readToEndAndClose()
        #expect(ChildExit.waitBlocking(python) == 0)
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// OpenID Connect Back-Channel Logout: the provider's logout token ends the person's session at
    /// once; a token that is not a valid logout token for this client changes nothing.
    @Test func aBackChannelLogoutEndsTheSession() async throws {
        let olga: [[String: Any]] = [
            ["username": "olga", "password": "olga-at-the-provider-2026", "email": "olga@logistics.example", "groups": ["logistics-dispatch"]]
        ]
        try await Self.withFederation(olga) { gateway, providers, _, directory in
            let provider = providers[0]
            let jar = directory.appendingPathComponent("olga.txt").path
            #expect(try Self.signIn(gateway, provider: provider, username: "olga", password: "olga-at-the-provider-2026", jar: jar).status == 200)
            // django-oauth-toolkit's subject is the user's primary key.
            let subject = "1"
            func post(_ token: String) throws -> Int {
                try gateway.curl(
                    "/.portcullis/federation/corp/backchannel-logout", ["--data-urlencode", "logout_token=\(token)"],
                    host: GatewayFixture.signInHost
                ).status
            }
            for (what, claims) in [
                ("a nonce", ["nonce": "n"]), ("another audience", ["aud": "another-client"]), ("another issuer", ["iss": "https://evil.example"]),
                ("no event", ["events": [String: String]()]), ("an old iat", ["iat": Int(Date().timeIntervalSince1970) - 7200]),
            ] as [(String, [String: Any])] {
                #expect(try post(try Self.logoutToken(provider, subject: subject, claims)) == 400, "a logout token with \(what)")
            }
            #expect(try post("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.") == 400, "an unsigned token")
            #expect(try gateway.curl("/v1/shipments", ["-b", jar, "-H", "accept: text/html"]).status == 200, "a refused logout changed something")

            let logout = try Self.logoutToken(provider, subject: subject)
            #expect(try post(logout) == 200)
            #expect(try post(logout) == 400, "a replayed logout token (it would end sessions opened after it)")
            var status = 200
            for _ in 0..<100 where status == 200 {
                status = try gateway.curl("/v1/shipments", ["-b", jar, "-H", "accept: text/html"]).status
                if status == 200 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(status == 302, "the session outlived the logout")
        }
    }

    /// An administrator links a provider identity to an existing user (sign-in then lands on that
    /// user), and local password sign-in is kept for the named roles only. The console lists the
    /// provider and the link; unlinking there ends the session the identity opened.
    @Test func anAdministratorLinksAnIdentityAndLocalSignInIsRestricted() async throws {
        // The mapping manages `dispatcher`: the provider group keeps it on dana at each sign-in.
        let dana: [[String: Any]] = [
            ["username": "dana.k", "password": "dana-at-the-provider-2026", "email": "dana.k@logistics.example", "groups": ["logistics-dispatch"]]
        ]
        let policies = Self.policies.merging(["identity-admin.cedar": ConsoleSession.repositoryFile("policies/identity-admin.cedar")]) { $1 }
        try await Self.withFederation(dana, localSignInRoles: ["security-admin"], policies: policies) { gateway, providers, _, directory in
            let provider = providers[0]
            let danaPassword = try await gateway.createUser("dana", roles: ["dispatcher"])
            let samPassword = try await gateway.createUser("sam", roles: ["security-admin"])
            func login(_ login: String, _ password: String) throws -> GatewayFixture.Reply {
                try GatewayFixture.curl([
                    "-H", "content-type: application/json", "-d", #"{"login":"\#(login)","password":"\#(password)"}"#,
                    "http://127.0.0.1:\(gateway.identityPort)/v1/login",
                ])
            }
            #expect(try login("dana", danaPassword).status == 403, "a dispatcher signs in with the provider only")
            #expect(try login("sam", samPassword).status == 200, "a security administrator keeps the break-glass password")

            // django-oauth-toolkit's subject is the user's primary key: dana.k is the first user.
            let linked = try await gateway.cli([
                "user", "link", "dana", "--provider", "corp", "--subject", "1",
                "--config", gateway.directory.appendingPathComponent(GatewayFixture.configFileName).path,
            ])
            #expect(linked.contains("linked corp subject 1 to dana"))
            let page = try Self.signIn(
                gateway, provider: provider, username: "dana.k", password: "dana-at-the-provider-2026",
                jar: directory.appendingPathComponent("dana.txt").path)
            #expect(page.status == 200, "\(page.status) \(page.body)")
            let assertion = try #require(gateway.upstreamRequests().last?["headers"] as? [[String]]).first { $0[0] == "x-portcullis-assertion" }?[1]
            #expect(try gateway.pyjwtClaims(try #require(assertion), audience: "shipments")["sub"] as? String == "dana")

            // The console: the provider with its settings and counts, and dana's linked identity.
            let sam = try ConsoleSession.login(
                gateway, "sam", samPassword, totpSecret: try ConsoleSession.enrolTOTP(gateway, "sam", samPassword))
            let providersPage = try sam.get(AdminConsole.prefix + "providers")
            #expect(providersPage.status == 200)
            #expect(
                providersPage.body.contains(provider.issuer) && providersPage.body.contains(#"<dd class="linked">1</dd>"#)
                    && providersPage.body.contains(#"<dd class="sessions">1</dd>"#)
                    && providersPage.body.contains("<td>logistics-dispatch</td><td>role dispatcher</td>"), "\(providersPage.body)")
            #expect(!providersPage.body.contains("client-secret-"), "the client secret is never shown")
            let userPage = try sam.get(AdminConsole.prefix + "users/dana")
            let csrf = try #require(userPage.body.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/).map { String($0.1) })
            #expect(userPage.body.contains(#"<td title="\#(provider.issuer)">corp</td><td>1</td>"#), "\(userPage.body)")
            let jar = directory.appendingPathComponent("dana.txt").path
            #expect(try gateway.curl("/v1/shipments", ["-b", jar, "-H", "accept: text/html"]).status == 200)
            let unlinked = try sam.post(
                AdminConsole.prefix + "users/dana/identities/unlink", ["csrf": csrf, "issuer": provider.issuer, "subject": "1"])
            #expect(unlinked.status == 303, "\(unlinked.status) \(unlinked.body)")
            var status = 200
            for _ in 0..<100 where status == 200 {
                status = try gateway.curl("/v1/shipments", ["-b", jar, "-H", "accept: text/html"]).status
                if status == 200 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(status == 302, "the unlinked identity's session outlived the unlink")
            #expect(!(try sam.get(AdminConsole.prefix + "users/dana")).body.contains(#"<td title="\#(provider.issuer)">"#))

            let audit = try await gateway.auditSearch(["--limit", "500"]) { $0.contains(#""action":"user.unlink""#) }
            #expect(audit.contains(#""action":"user.link""#) && audit.contains("local sign-in is restricted"), "\(audit)")
            #expect(audit.contains(#""action":"user.unlink""#), "\(audit)")
        }
    }

    /// In Chromium: the sign-in page's provider button, the provider's own form, and back on the
    /// demo tool; another tool then opens by single sign-on.
    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["CI"] != nil || ConsoleBrowserTests.browserAvailable,
            "needs chromium, chromium-driver and selenium (scripts/test installs them)"))
    func aPersonSignsInThroughTheProviderInABrowser() async throws {
        try #require(ConsoleBrowserTests.browserAvailable, "chromium, chromium-driver and selenium are required under CI")
        let olga: [[String: Any]] = [
            ["username": "olga", "password": "olga-at-the-provider-2026", "email": "olga@logistics.example", "groups": ["logistics-dispatch"]]
        ]
        let policies = ["tools.cedar": #"permit (principal in Role::"dispatcher", action in Action::"read", resource);"#]
        try await Self.withFederation(olga, routes: SingleSignOnBrowserTests.routes, policies: policies) { gateway, _, _, _ in
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/federation_browser.py").path
            let result = try await ConsoleBrowserTests.run(
                ConsoleBrowserTests.python,
                [
                    script, "--port", "\(gateway.gatewayPort)", "--certificate", "\(gateway.certs)/gateway.crt", "--provider-name", "Corp SSO",
                    "--login", "olga", "--password", "olga-at-the-provider-2026", "--screenshots",
                    root.appendingPathComponent(".build/screenshots").path, "--chromium", ConsoleBrowserTests.chromium,
                    "--chromedriver", ConsoleBrowserTests.chromedriver,
                ])
            #expect(result.status == 0, "\(result.output)")
        }
    }
}
