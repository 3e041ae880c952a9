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
    static func relyingParty(_ gateway: GatewayFixture, client: String, secret: String?, cookie: String) throws -> [String: Any] {
        try #require(ConsoleBrowserTests.pythonHas("authlib"), "Authlib is required (scripts/test installs it)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ConsoleBrowserTests.python)
        process.arguments =
            [
                URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/oidc_client.py").path,
                "--issuer", "https://\(GatewayFixture.signInHost):\(gateway.gatewayPort)", "--ca", "\(gateway.certs)/ca-bundle.crt",
                "--client-id", client, "--redirect-uri", redirect, "--cookie", cookie,
            ] + (secret.map { ["--client-secret", $0] } ?? [])
        let output = Pipe()
        let errors = Pipe()
        (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, output, errors)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let status = ChildExit.waitBlocking(process)
        return try #require(
            status == 0 ? (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] : nil, "oidc_client.py exited \(status): \(problem)")
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

            var audit = ""
            for _ in 0..<50 where !audit.contains("authorization code replayed") {
                audit = try await gateway.cli(["audit", "search", "--limit", "200"])
                if !audit.contains("authorization code replayed") { try await Task.sleep(for: .milliseconds(100)) }
            }
            for action in ["oidc.authorize", "oidc.token", "oidc.refresh", "oidc_client.create"] {
                #expect(audit.contains(#""action":"\#(action)""#), "no \(action) in the audit trail")
            }
            #expect(audit.contains("authorization code replayed") && audit.contains("refresh token reused"))
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

            let anonymous = try gateway.curl(authorize, ["-H", "accept: text/html"], host: GatewayFixture.signInHost)
            #expect(
                anonymous.status == 303
                    && anonymous.header("location")?.hasPrefix("/.portcullis/login?next=%2F.portcullis%2Foidc%2Fauthorize") == true)
            let anonymousSilent = try gateway.curl(authorize + "&prompt=none", [], host: GatewayFixture.signInHost)
            #expect(
                anonymousSilent.header("location")?.contains("error=login_required") == true
                    && anonymousSilent.header("location")?.contains("state=s1") == true)

            var audit = ""
            for _ in 0..<50 where !audit.contains("Cedar denied oidc.sign_in") {
                audit = try await gateway.cli(["audit", "search", "--route", "portcullis-sign-in", "--decision", "deny", "--limit", "50"])
                if !audit.contains("Cedar denied oidc.sign_in") { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(audit.contains("Cedar denied oidc.sign_in to ledger"), "\(audit)")
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
            let good = try exchange(try code(), secret: secret, verifier: verifier)
            #expect(good.status == 200 && good.json["id_token"] != nil && good.header("cache-control") == "no-store", "\(good.body)")
        }
    }
}
