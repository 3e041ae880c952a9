import Console
import Foundation
import TestSupport
import Testing

/// Portcullis as the OpenID provider of the company's tools (issue 22), against a client nobody
/// here wrote: Authlib (`Fixtures/oidc_client.py`) runs discovery, the code flow with PKCE, id_token
/// verification with the published JWKS (signature, iss, aud, nonce, at_hash), userinfo and
/// refresh against `portcullis serve` and PostgreSQL; curl plays the browser and the attacker.
@Suite(.serialized) struct OpenIDProviderTests {
    static let routes = SingleSignOnTests.routes
    static var policies: [String: String] {
        SingleSignOnTests.policies.merging(["oidc.cedar": ConsoleSession.repositoryFile("policies/oidc.cedar")]) { $1 }
    }
    static let redirect = "https://wiki.example/oidc/callback"

    /// Registers a client with the CLI: its secret (nil for a public one).
    static func addClient(_ gateway: GatewayFixture, _ id: String, _ extra: [String]) async throws -> String? {
        let output = try await gateway.cli(["client", "add", id, "--redirect-uri", redirect] + extra)
        return output.firstMatch(of: /client secret \(shown once\): (\S+)/).map { String($0.1) }
    }

    /// The sign-in host's session cookie of `login`, signed in through the form.
    static func signInHostCookie(_ gateway: GatewayFixture, _ login: String, _ password: String) throws -> (cookie: String, jar: String) {
        let session = try gateway.signIn(login, password)
        let jar = session.options[1]
        let text = try String(contentsOfFile: jar, encoding: .utf8)
        let line = try #require(
            text.split(separator: "\n").first { $0.contains(GatewayFixture.signInHost) && $0.contains("\t__Host-portcullis\t") })
        return (String(line.split(separator: "\t").last ?? ""), jar)
    }

    /// Runs the Authlib client for `login`'s session and returns what it saw.
    static func relyingParty(
        _ gateway: GatewayFixture, client: String, secret: String?, cookie: String, scope: String = "openid profile email groups"
    ) throws -> [String: Any] {
        try #require(ConsoleBrowserTests.pythonHas("authlib"), "Authlib is required (scripts/test installs it)")
        return try fixture(
            "oidc_client.py",
            [
                "--issuer", issuer(gateway), "--ca", "\(gateway.certs)/ca-bundle.crt", "--client-id", client, "--redirect-uri", redirect, "--cookie",
                cookie, "--scope", scope,
            ]
                + (secret.map { ["--client-secret", $0] } ?? []))
    }

    static func issuer(_ gateway: GatewayFixture) -> String { "https://\(GatewayFixture.signInHost):\(gateway.gatewayPort)" }

    /// Runs `Fixtures/<script>` and returns the JSON object it prints.
    static func fixture(_ script: String, _ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ConsoleBrowserTests.python)
        process.arguments =
            [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(script)").path] + arguments
        let output = Pipe()
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("\(script)-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, output, try FileHandle(forWritingTo: errors))
        try process.run()
        let data = output.readToEndAndClose()
        let status = ChildExit.waitBlocking(process)
        let problem = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        return try #require(
            status == 0 ? (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] : nil, "\(script) exited \(status): \(problem)")
    }

    @Test func aToolSignsInWithAuthlibAndTheCodeAndRefreshTokenAreSingleUse() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            _ = try await gateway.cli(["role", "add", "staff"])
            _ = try await gateway.cli(["role", "add", "dispatcher", "--parent", "staff"])
            let password = try await gateway.createUser("dana", roles: ["dispatcher"])
            let secret = try #require(
                try await Self.addClient(
                    gateway, "wiki",
                    [
                        "--label", "audience=staff", "--claim", "login", "--claim", "email", "--claim", "roles", "--scope", "openid",
                        "--scope", "profile", "--scope", "email", "--scope", "groups",
                    ]))
            let (cookie, _) = try Self.signInHostCookie(gateway, "dana", password)
            let seen = try Self.relyingParty(gateway, client: "wiki", secret: secret, cookie: cookie)

            #expect(seen["discovery_issuer"] as? String == "https://\(GatewayFixture.signInHost):\(gateway.gatewayPort)")
            let location = try #require(seen["authorize_location"] as? String)
            #expect(location.hasPrefix(Self.redirect + "?code=poc_") && location.contains("&iss="), "\(seen)")
            let claims = try #require(seen["id_token"] as? [String: Any], "\(seen)")
            #expect(seen["id_token_alg"] as? String == "RS256")
            #expect(claims["preferred_username"] as? String == "dana" && claims["email"] as? String == "dana@logistics.example")
            #expect((claims["sub"] as? String)?.count == 36, "sub is the account's stable id, not the login")
            #expect(claims["roles"] as? [String] == ["dispatcher"] && claims["amr"] as? [String] == ["pwd"] && claims["auth_time"] != nil)
            #expect(claims["name"] == nil, "name is not among the client's claims")
            #expect((seen["access_token_header"] as? [String: Any])?["typ"] as? String == "at+jwt")
            let userInfo = try #require(seen["userinfo"] as? [String: Any])
            #expect(userInfo["sub"] as? String == claims["sub"] as? String && userInfo["preferred_username"] as? String == "dana")

            let replay = try #require(seen["code_replay"] as? [String: Any])
            #expect(replay["status"] as? Int == 400 && (replay["body"] as? [String: Any])?["error"] as? String == "invalid_grant")
            #expect((seen["refresh_after_replay"] as? [String: Any])?["status"] as? Int == 400, "the replayed code's grant was revoked")
            #expect(seen["userinfo_after_replay"] as? Int == 401, "the revoked grant's access token no longer answers userinfo")

            #expect((seen["refreshed"] as? [String: Any])?["new_refresh_token"] as? Bool == true)
            #expect((seen["refresh_reuse"] as? [String: Any])?["status"] as? Int == 400)
            #expect(seen["refresh_after_reuse"] as? Int == 400, "a reused refresh token revokes the grant")

            let audit = try await gateway.auditSearch(["--limit", "200"]) {
                $0.contains("authorization code replayed") && $0.contains("refresh token reused")
            }
            for action in ["oidc.authorize", "oidc.token", "oidc.refresh", "oidc_client.create"] {
                #expect(audit.contains(#""action":"\#(action)""#), "no \(action) in the audit trail")
            }
            #expect(audit.contains("authorization code replayed") && audit.contains("refresh token reused"))
        }
    }

    /// A client may ask for ES256 or EdDSA id_tokens; Authlib verifies each with the JWKS.
    @Test func idTokensInEachOfferedAlgorithmVerify() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            _ = try await gateway.cli(["role", "add", "staff"])
            let password = try await gateway.createUser("dana", roles: ["staff"])
            let (cookie, _) = try Self.signInHostCookie(gateway, "dana", password)
            for algorithm in ["ES256", "EdDSA"] {
                let id = "tool-" + algorithm.lowercased()
                let secret = try #require(
                    try await Self.addClient(
                        gateway, id,
                        ["--label", "audience=staff", "--id-token-alg", algorithm, "--scope", "openid", "--scope", "profile", "--scope", "groups"]))
                let seen = try Self.relyingParty(gateway, client: id, secret: secret, cookie: cookie, scope: "openid profile groups")
                #expect(seen["id_token_alg"] as? String == algorithm, "\(seen)")
                #expect((seen["id_token"] as? [String: Any])?["preferred_username"] as? String == "dana", "\(seen)")
            }
        }
    }

    /// Two more clients nobody here wrote: pyoidc (`oic`) and a Django application on
    /// mozilla-django-oidc, each through a whole sign-in with Portcullis as the provider.
    @Test func pyoidcAndMozillaDjangoOIDCSignIn() async throws {
        try #require(ConsoleBrowserTests.pythonHas("oic") && ConsoleBrowserTests.pythonHas("mozilla_django_oidc"), "scripts/test installs them")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            _ = try await gateway.cli(["role", "add", "staff"])
            let password = try await gateway.createUser("dana", roles: ["staff"])
            let (cookie, _) = try Self.signInHostCookie(gateway, "dana", password)
            let ca = "\(gateway.certs)/ca-bundle.crt"

            let pyoidcSecret = try #require(try await Self.addClient(gateway, "pyoidc", ["--label", "audience=staff"]))
            let pyoidc = try Self.fixture(
                "pyoidc_client.py",
                [
                    "--issuer", Self.issuer(gateway), "--ca", ca, "--client-id", "pyoidc", "--client-secret", pyoidcSecret, "--redirect-uri",
                    Self.redirect, "--cookie", cookie,
                ])
            #expect(pyoidc["state_matches"] as? Bool == true && pyoidc["nonce_matches"] as? Bool == true, "\(pyoidc)")
            #expect((pyoidc["id_token"] as? [String: Any])?["preferred_username"] as? String == "dana", "\(pyoidc)")
            #expect((pyoidc["userinfo"] as? [String: Any])?["email"] as? String == "dana@logistics.example", "\(pyoidc)")

            let port = try FreePort.reserve()
            let callback = "http://127.0.0.1:\(port)/oidc/callback/"
            let djangoSecret = try #require(
                try await gateway.cli(["client", "add", "django", "--redirect-uri", callback, "--label", "audience=staff"])
                    .firstMatch(of: /client secret \(shown once\): (\S+)/).map { String($0.1) })
            let django = try Self.fixture(
                "django_oidc_rp.py",
                [
                    "--issuer", Self.issuer(gateway), "--ca", ca, "--client-id", "django", "--client-secret", djangoSecret, "--port", "\(port)",
                    "--cookie", cookie,
                ])
            let whoami = try #require(django["whoami"] as? [String: Any], "\(django)")
            #expect(whoami["authenticated"] as? Bool == true && whoami["email"] as? String == "dana@logistics.example", "\(django)")
        }
    }

    /// In Chromium: a Django tool on mozilla-django-oidc sends the browser to Portcullis's sign-in
    /// form, and after it the browser lands back on the tool signed in; a second sign-in asks nothing.
    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["CI"] != nil || ConsoleBrowserTests.browserAvailable,
            "needs chromium, chromium-driver and selenium (scripts/test installs them)"))
    func aToolSignsAPersonInInABrowser() async throws {
        try #require(ConsoleBrowserTests.browserAvailable, "chromium, chromium-driver and selenium are required under CI")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            _ = try await gateway.cli(["role", "add", "staff"])
            let password = try await gateway.createUser("dana", roles: ["staff"])
            let port = try FreePort.reserve()
            let secret = try #require(
                try await gateway.cli([
                    "client", "add", "django", "--redirect-uri", "http://127.0.0.1:\(port)/oidc/callback/", "--label", "audience=staff",
                ])
                .firstMatch(of: /client secret \(shown once\): (\S+)/).map { String($0.1) })
            let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
            let tool = Process()
            tool.executableURL = URL(fileURLWithPath: ConsoleBrowserTests.python)
            tool.arguments = [
                fixtures.appendingPathComponent("django_oidc_rp.py").path, "--issuer", Self.issuer(gateway), "--ca", "\(gateway.certs)/ca-bundle.crt",
                "--client-id", "django", "--client-secret", secret, "--port", "\(port)", "--serve",
            ]
            (tool.standardInput, tool.standardOutput, tool.standardError) = (FileHandle.nullDevice, FileHandle.nullDevice, FileHandle.nullDevice)
            try tool.run()
            // SIGKILL: the child inherits the test runner's signal mask, in which SIGTERM may be blocked.
            defer { kill(tool.processIdentifier, SIGKILL) }
            var up = false
            for _ in 0..<200 where !up {
                up = (try? GatewayFixture.curl(["http://127.0.0.1:\(port)/whoami"]))?.status == 200
                if !up { try await Task.sleep(for: .milliseconds(50)) }
            }
            try #require(up, "the Django tool did not start")
            let root = fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let result = try await ConsoleBrowserTests.run(
                ConsoleBrowserTests.python,
                [
                    fixtures.appendingPathComponent("oidc_browser.py").path, "--port", "\(gateway.gatewayPort)", "--certificate",
                    "\(gateway.certs)/gateway.crt", "--tool-port", "\(port)", "--login", "dana", "--password", password, "--screenshots",
                    root.appendingPathComponent(".build/screenshots").path, "--chromium", ConsoleBrowserTests.chromium,
                    "--chromedriver", ConsoleBrowserTests.chromedriver,
                ])
            #expect(result.status == 0, "\(result.output)")
        }
    }

    /// Cedar decides who may sign in to which tool; the refusal is a page (or `access_denied` to
    /// the tool with `prompt=none`), audited with the policies; a person without a session is
    /// sent to sign in, or gets `login_required` with `prompt=none`.
    @Test func cedarDecidesWhoSignsInToWhichTool() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            _ = try await gateway.cli(["role", "add", "staff"])
            _ = try await gateway.cli(["role", "add", "dispatcher", "--parent", "staff"])
            let password = try await gateway.createUser("dana", roles: ["dispatcher"])
            _ = try await Self.addClient(gateway, "ledger", ["--name", "Ledger", "--label", "audience=finance"])
            let (_, jar) = try Self.signInHostCookie(gateway, "dana", password)
            let authorize =
                "/.portcullis/oidc/authorize?response_type=code&client_id=ledger&scope=openid&state=s1&redirect_uri="
                + Self.redirect.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let denied = try gateway.curl(authorize, ["-b", jar, "-H", "accept: text/html"], host: GatewayFixture.signInHost)
            #expect(denied.status == 403 && denied.header("location") == nil && denied.body.contains("may not sign in to Ledger"))
            let silent = try gateway.curl(authorize + "&prompt=none", ["-b", jar], host: GatewayFixture.signInHost)
            #expect(silent.status == 302 && silent.header("location")?.hasPrefix(Self.redirect + "?error=access_denied") == true)

            // max_age=0 asks for a fresh sign-in, and one fresh sign-in is enough (no loop).
            _ = try await Self.addClient(gateway, "wiki", ["--label", "audience=staff"])
            let wiki =
                "/.portcullis/oidc/authorize?response_type=code&client_id=wiki&scope=openid&max_age=0&redirect_uri="
                + Self.redirect.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let again = try gateway.curl(wiki, ["-b", jar, "-c", jar, "-H", "accept: text/html"], host: GatewayFixture.signInHost)
            let login = try #require(again.header("location"), "\(again.status)")
            #expect(login.hasPrefix("/.portcullis/login?next=") && login.hasSuffix("&prompt=login"), "\(login)")
            let form = try gateway.curl(login, ["-b", jar, "-c", jar, "-H", "accept: text/html"], host: GatewayFixture.signInHost)
            let csrf = try #require(form.body.firstMatch(of: /name="csrf" value="([^"]+)"/).map { String($0.1) }, "\(form.body)")
            let next = try #require(form.body.firstMatch(of: /name="next" value="([^"]+)"/).map { String($0.1) })
            let signedIn = try gateway.curl(
                "/.portcullis/login",
                [
                    "-b", jar, "-c", jar, "-H", "accept: text/html", "--data-urlencode", "login=dana", "--data-urlencode", "password=\(password)",
                    "--data-urlencode", "csrf=\(csrf)", "--data-urlencode", "next=\(next.replacingOccurrences(of: "&amp;", with: "&"))",
                ],
                host: GatewayFixture.signInHost)
            let back = try #require(signedIn.header("location"), "\(signedIn.status) \(signedIn.body)")
            let issued = try gateway.curl(back, ["-b", jar, "-c", jar], host: GatewayFixture.signInHost)
            #expect(
                issued.status == 302 && issued.header("location")?.hasPrefix(Self.redirect + "?code=") == true,
                "\(issued.status) \(issued.header("location") ?? "")")

            let anonymous = try gateway.curl(authorize, ["-H", "accept: text/html"], host: GatewayFixture.signInHost)
            #expect(
                anonymous.status == 303
                    && anonymous.header("location")?.hasPrefix("/.portcullis/login?next=%2F.portcullis%2Foidc%2Fauthorize") == true)
            let anonymousSilent = try gateway.curl(authorize + "&prompt=none", [], host: GatewayFixture.signInHost)
            #expect(
                anonymousSilent.header("location")?.contains("error=login_required") == true
                    && anonymousSilent.header("location")?.contains("state=s1") == true)

            let audit = try await gateway.auditSearch(["--route", "portcullis-sign-in", "--decision", "deny", "--limit", "50"]) {
                $0.contains("Cedar denied oidc.sign_in")
            }
            #expect(audit.contains("Cedar denied oidc.sign_in to ledger"), "\(audit)")

            // The decision replays like any other: `policy explain --request-id`.
            let record = try #require(audit.split(separator: "\n").first { $0.contains("Cedar denied oidc.sign_in to ledger") })
            let requestID = try #require(record.firstMatch(of: /"request_id":"([0-9a-f]+)"/).map { String($0.1) })
            let explained = try await gateway.cli([
                "policy", "explain", "--request-id", requestID, "--policies", gateway.directory.appendingPathComponent("policies").path,
                "--config", gateway.directory.appendingPathComponent(GatewayFixture.configFileName).path,
            ])
            #expect(explained.hasPrefix("decision: Deny"), "\(explained)")
            #expect(explained.contains(#"request:  User::"dana" oidc.sign_in on Client::"ledger""#), "\(explained)")
            #expect(explained.contains("permit oidc.finance-tools"), "\(explained)")
        }
    }

    /// The redirect URI is matched exactly: every open-redirect form of the reference list, and
    /// near misses of the registered URI, get a page and no redirect.
    @Test func onlyTheRegisteredRedirectURIIsEverUsed() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            _ = try await Self.addClient(gateway, "wiki", ["--label", "audience=staff"])
            let nearMisses = [
                "https://wiki.example/oidc/callback/", "https://wiki.example/oidc/callback?x=1", "https://wiki.example/oidc/callback#x",
                "https://WIKI.example/oidc/callback", "https://wiki.example.evil.example/oidc/callback",
                "https://wiki.example@evil.example/oidc/callback",
                "http://wiki.example/oidc/callback", "https://wiki.example/oidc/callback/../../evil", "https://wiki.example:443/oidc/callback",
                "//evil.example", "https://evil.example", "",
            ]
            for uri in nearMisses + SingleSignOnTests.openRedirectForms {
                let escaped = uri.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let answer = try gateway.curl(
                    "/.portcullis/oidc/authorize?response_type=code&client_id=wiki&scope=openid&redirect_uri=\(escaped)", [],
                    host: GatewayFixture.signInHost)
                #expect(answer.status == 400 && answer.header("location") == nil, "redirect_uri \(uri): \(answer.status)")
            }
            let unknown = try gateway.curl(
                "/.portcullis/oidc/authorize?response_type=code&client_id=nobody&scope=openid&redirect_uri=https%3A%2F%2Fevil.example", [],
                host: GatewayFixture.signInHost)
            #expect(unknown.status == 400 && unknown.header("location") == nil)
        }
    }

    /// The token endpoint's refusals: a wrong secret, a public client without PKCE, a code at
    /// another client, another redirect URI or without the verifier.
    @Test func theTokenEndpointRefusesWhatItMust() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            _ = try await gateway.cli(["role", "add", "staff"])
            let password = try await gateway.createUser("dana", roles: ["staff"])
            let secret = try #require(try await Self.addClient(gateway, "wiki", ["--label", "audience=staff"]))
            let other = try #require(try await Self.addClient(gateway, "other", ["--label", "audience=staff"]))
            _ = try await Self.addClient(gateway, "spa", ["--public", "--label", "audience=staff"])
            let (_, jar) = try Self.signInHostCookie(gateway, "dana", password)
            let redirect = Self.redirect.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let verifier = String(repeating: "v", count: 43)
            let challenge = "7w_YNF9DSfIdPf_pRjSq646_kPr-2-o9NAl16JGghdM"  // BASE64URL(SHA256("v" × 43))

            let publicWithoutPKCE = try gateway.curl(
                "/.portcullis/oidc/authorize?response_type=code&client_id=spa&scope=openid&redirect_uri=\(redirect)", ["-b", jar],
                host: GatewayFixture.signInHost)
            #expect(publicWithoutPKCE.header("location")?.contains("error=invalid_request") == true)

            func code() throws -> String {
                let answer = try gateway.curl(
                    "/.portcullis/oidc/authorize?response_type=code&client_id=wiki&scope=openid&redirect_uri=\(redirect)"
                        + "&code_challenge=\(challenge)&code_challenge_method=S256", ["-b", jar], host: GatewayFixture.signInHost)
                return try #require(answer.header("location")?.firstMatch(of: /code=([^&]+)/).map { String($0.1) }, "\(answer.status) \(answer.body)")
            }
            func exchange(
                _ code: String, client: String = "wiki", secret: String, verifier: String?, redirect uri: String = Self.redirect
            )
                throws -> GatewayFixture.Reply
            {
                try gateway.curl(
                    "/.portcullis/oidc/token",
                    [
                        "-u", "\(client):\(secret)", "--data-urlencode", "grant_type=authorization_code", "--data-urlencode", "code=\(code)",
                        "--data-urlencode", "redirect_uri=\(uri)",
                    ] + (verifier.map { ["--data-urlencode", "code_verifier=\($0)"] } ?? []),
                    host: GatewayFixture.signInHost)
            }
            #expect(try exchange(try code(), secret: "pcs_wrong", verifier: verifier).status == 401)
            #expect(try exchange(try code(), client: "other", secret: other, verifier: verifier).json["error"] as? String == "invalid_grant")
            #expect(try exchange(try code(), secret: secret, verifier: nil).json["error"] as? String == "invalid_grant")
            #expect(try exchange(try code(), secret: secret, verifier: String(repeating: "w", count: 43)).json["error"] as? String == "invalid_grant")
            #expect(
                try exchange(try code(), secret: secret, verifier: verifier, redirect: "https://wiki.example/other").json["error"] as? String
                    == "invalid_grant")
            // CORS: a public client's origin may call the token endpoint from its pages; no other.
            let preflight = ["-X", "OPTIONS", "-H", "access-control-request-method: POST"]
            let allowed = try gateway.curl(
                "/.portcullis/oidc/token", preflight + ["-H", "origin: https://wiki.example"], host: GatewayFixture.signInHost)
            #expect(allowed.status == 204 && allowed.header("access-control-allow-origin") == "https://wiki.example")
            let foreign = try gateway.curl(
                "/.portcullis/oidc/token", preflight + ["-H", "origin: https://evil.example"], host: GatewayFixture.signInHost)
            #expect(foreign.status == 403 && foreign.header("access-control-allow-origin") == nil)
            let fromEvil = try gateway.curl(
                "/.portcullis/oidc/token", ["-H", "origin: https://evil.example", "--data-urlencode", "grant_type=refresh_token"],
                host: GatewayFixture.signInHost)
            #expect(fromEvil.header("access-control-allow-origin") == nil)
            let good = try exchange(try code(), secret: secret, verifier: verifier)
            #expect(good.status == 200 && good.json["id_token"] != nil && good.header("cache-control") == "no-store", "\(good.body)")
        }
    }
}

extension OpenIDProviderTests {
    /// Runs a short Python program (PyJWT and `cryptography`) and returns its output.
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ConsoleBrowserTests.python)
        process.arguments = ["-c", script] + arguments
        let output = Pipe()
        (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, output, FileHandle.nullDevice)
        try process.run()
        let data = output.readToEndAndClose()
        guard ChildExit.waitBlocking(process) == 0 else { throw PortcullisProcess.Failure(description: "python exited non-zero") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A key pair for private_key_jwt: the private PEM and the public JWKS, written to `directory`.
    static func clientKeys(in directory: URL, name: String) throws -> (pem: String, jwks: String) {
        let pem = directory.appendingPathComponent("\(name).pem").path
        let jwks = directory.appendingPathComponent("\(name).jwks").path
        _ = try python(
            """
            import json, sys, jwt
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            open(sys.argv[1], "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            public.update({"kid": sys.argv[3], "alg": "RS256", "use": "sig"})
            open(sys.argv[2], "w").write(json.dumps({"keys": [public]}))
            """, [pem, jwks, name])
        return (pem, jwks)
    }

    /// A client assertion (RFC 7523) signed with `pem`; `claims` replace the usual ones.
    static func assertion(
        pem: String, kid: String, client: String, audience: String, _ claims: String = "{}", algorithm: String = "RS256"
    ) throws -> String {
        try python(
            """
            import json, sys, time, uuid, jwt
            claims = {"iss": sys.argv[3], "sub": sys.argv[3], "aud": sys.argv[4], "exp": int(time.time()) + 60, "iat": int(time.time()),
                      "jti": str(uuid.uuid4())}
            claims.update(json.loads(sys.argv[5]))
            key = open(sys.argv[1]).read() if sys.argv[6] == "RS256" else "a-shared-secret-of-thirty-two-bytes!"
            print(jwt.encode(claims, key, algorithm=sys.argv[6], headers={"kid": sys.argv[2]}))
            """, [pem, kid, client, audience, claims, algorithm])
    }

    /// private_key_jwt: an assertion signed with the client's registered key authenticates it,
    /// once; another audience, another key, HMAC and a replay do not. A role change reaches
    /// userinfo at once; RP-initiated logout (confirmed with a form) ends the session and with it
    /// the tool's refresh token, and returns only to a registered URI.
    @Test func privateKeyJWTRoleChangesAndRPInitiatedLogout() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            _ = try await gateway.cli(["role", "add", "staff"])
            _ = try await gateway.cli(["role", "add", "dispatcher", "--parent", "staff"])
            let password = try await gateway.createUser("dana", roles: ["dispatcher"])
            let keys = try Self.clientKeys(in: gateway.directory, name: "tool-key")
            let stranger = try Self.clientKeys(in: gateway.directory, name: "stranger-key")
            let secret = try await Self.addClient(
                gateway, "tool",
                [
                    "--jwks-file", keys.jwks, "--post-logout-redirect-uri", "https://wiki.example/bye", "--label", "audience=staff", "--claim",
                    "roles", "--scope", "openid", "--scope", "groups",
                ])
            #expect(secret == nil, "a client with keys has no secret")
            let (_, jar) = try Self.signInHostCookie(gateway, "dana", password)
            let issuer = "https://\(GatewayFixture.signInHost):\(gateway.gatewayPort)"
            let endpoint = issuer + "/.portcullis/oidc/token"
            let redirect = Self.redirect.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            func code() throws -> String {
                let answer = try gateway.curl(
                    "/.portcullis/oidc/authorize?response_type=code&client_id=tool&scope=openid%20groups&redirect_uri=\(redirect)", ["-b", jar],
                    host: GatewayFixture.signInHost)
                return try #require(answer.header("location")?.firstMatch(of: /code=([^&]+)/).map { String($0.1) }, "\(answer.status)")
            }
            func exchange(_ code: String, assertion: String) throws -> GatewayFixture.Reply {
                try gateway.curl(
                    "/.portcullis/oidc/token",
                    [
                        "--data-urlencode", "grant_type=authorization_code", "--data-urlencode", "code=\(code)", "--data-urlencode",
                        "redirect_uri=\(Self.redirect)", "--data-urlencode",
                        "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "--data-urlencode",
                        "client_assertion=\(assertion)",
                    ], host: GatewayFixture.signInHost)
            }
            let good = try Self.assertion(pem: keys.pem, kid: "tool-key", client: "tool", audience: endpoint)
            let tokens = try exchange(try code(), assertion: good)
            #expect(tokens.status == 200, "\(tokens.body)")
            #expect(try exchange(try code(), assertion: good).json["error_description"] as? String == "the assertion was used before (jti replayed)")
            let refused = [
                try Self.assertion(pem: keys.pem, kid: "tool-key", client: "tool", audience: "https://elsewhere.example/token"),
                try Self.assertion(pem: stranger.pem, kid: "tool-key", client: "tool", audience: endpoint),
                try Self.assertion(pem: keys.pem, kid: "tool-key", client: "tool", audience: endpoint, algorithm: "HS256"),
                try Self.assertion(pem: keys.pem, kid: "tool-key", client: "tool", audience: endpoint, #"{"exp": 1}"#),
                try Self.assertion(pem: keys.pem, kid: "tool-key", client: "tool", audience: endpoint, #"{"sub": "other"}"#),
            ]
            for assertion in refused {
                let answer = try exchange(try code(), assertion: assertion)
                #expect(answer.status == 401 && answer.json["error"] as? String == "invalid_client", "\(answer.body)")
            }

            // A role change reaches userinfo at once.
            let access = try #require(tokens.json["access_token"] as? String)
            func userInfo() throws -> GatewayFixture.Reply {
                try gateway.curl("/.portcullis/oidc/userinfo", ["-H", "authorization: Bearer \(access)"], host: GatewayFixture.signInHost)
            }
            #expect(try userInfo().json["roles"] as? [String] == ["dispatcher"])
            _ = try await gateway.cli(["role", "revoke", "dispatcher", "--user", "dana"])
            #expect(try userInfo().json["roles"] as? [String] == [], "userinfo answers from the account as it is now")

            // RP-initiated logout: an unregistered return URI is refused without a redirect.
            let idToken = try #require(tokens.json["id_token"] as? String)
            for uri in ["https://evil.example/bye", "https://wiki.example/bye/", "https://wiki.example/oidc/callback"]
                + SingleSignOnTests.openRedirectForms
            {
                let escaped = uri.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let answer = try gateway.curl(
                    "/.portcullis/oidc/logout?id_token_hint=\(idToken)&post_logout_redirect_uri=\(escaped)", ["-b", jar],
                    host: GatewayFixture.signInHost)
                #expect(answer.status == 400 && answer.header("location") == nil, "post_logout_redirect_uri \(uri)")
            }
            let request = "id_token_hint=\(idToken)&post_logout_redirect_uri=https%3A%2F%2Fwiki.example%2Fbye&state=st-9"
            let confirm = try gateway.curl("/.portcullis/oidc/logout?" + request, ["-b", jar, "-c", jar], host: GatewayFixture.signInHost)
            #expect(confirm.status == 200 && confirm.body.contains("asks to sign you out"), "\(confirm.status) \(confirm.body)")
            let csrf = try #require(confirm.body.firstMatch(of: /name="csrf" value="([^"]+)"/).map { String($0.1) })
            let signedOut = try gateway.curl(
                "/.portcullis/oidc/logout",
                ["-b", jar, "-c", jar, "-H", "origin: \(issuer)", "--data-urlencode", "csrf=\(csrf)", "--data-urlencode", "request=\(request)"],
                host: GatewayFixture.signInHost)
            #expect(signedOut.status == 303 && signedOut.header("location") == "https://wiki.example/bye?state=st-9", "\(signedOut.status)")
            let refresh = try gateway.curl(
                "/.portcullis/oidc/token",
                [
                    "--data-urlencode", "grant_type=refresh_token", "--data-urlencode",
                    "refresh_token=\(tokens.json["refresh_token"] as? String ?? "")",
                    "--data-urlencode", "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "--data-urlencode",
                    "client_assertion=\(try Self.assertion(pem: keys.pem, kid: "tool-key", client: "tool", audience: endpoint))",
                ],
                host: GatewayFixture.signInHost)
            #expect(refresh.json["error"] as? String == "invalid_grant", "signing out ends the tools' refresh tokens: \(refresh.body)")
            #expect(try userInfo().status == 401)
        }
    }

    /// The console's clients page: a client created there shows its secret once, gets a new one,
    /// and is removed.
    @Test func theConsoleManagesClients() async throws {
        try await GatewayFixture.run(policies: ConsoleTests.policies, routes: ConsoleTests.routes) { gateway in
            let samPassword = try await gateway.createUser("sam", roles: ["security-admin"])
            let sam = try ConsoleSession.login(gateway, "sam", samPassword, totpSecret: try ConsoleSession.enrolTOTP(gateway, "sam", samPassword))
            let page = try sam.get(AdminConsole.prefix + "clients")
            let csrf = try #require(page.body.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/).map { String($0.1) })
            let created = try sam.post(
                AdminConsole.prefix + "clients",
                [
                    "csrf": csrf, "id": "grafana", "name": "Grafana", "redirect_uris": "https://grafana.example/login/generic_oauth",
                    "labels": "audience=staff", "scopes": "openid profile",
                ])
            #expect(created.status == 200 && created.body.contains("client secret of grafana"), "\(created.status) \(created.body)")
            #expect(created.body.firstMatch(of: /<code class="secret" id="shown-once">pcs_/) != nil)
            #expect(try await gateway.cli(["client", "list"]).contains("grafana\tconfidential(client_secret_basic)"))
            let rotated = try sam.post(AdminConsole.prefix + "clients/grafana/secret", ["csrf": csrf])
            #expect(rotated.body.contains("new client secret of grafana"))
            #expect(try sam.post(AdminConsole.prefix + "clients/grafana/remove", ["csrf": csrf]).status == 303)
            #expect(try !(await gateway.cli(["client", "list"])).contains("grafana"))
        }
    }
}
