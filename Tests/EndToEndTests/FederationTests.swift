import Foundation
import TestSupport
import Testing

/// Sign-in through a real OpenID provider nobody here wrote (issue 21): django-oauth-toolkit with
/// OpenID Connect on (`Fixtures/oidc_provider.py`), curl as the browser, `portcullis serve` with
/// PostgreSQL as the relying party.
@Suite(.serialized) struct FederationTests {
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

    /// A running provider: its issuer and how to stop it.
    struct Provider {
        let process: Process
        let port: Int
        var issuer: String { "http://127.0.0.1:\(port)/o" }

        /// Registers the gateway's callback as the client's one redirect URI.
        func register(redirectURI: String) throws {
            let reply = try GatewayFixture.curl(["-X", "POST", "--data-binary", redirectURI, "http://127.0.0.1:\(port)/test/redirect-uris"])
            #expect(reply.status == 200)
        }
    }

    /// Starts the provider with `users` and the client `portcullis` / `secret`.
    static func provider(_ users: [[String: Any]], secret: String, in directory: URL) async throws -> Provider {
        let usersFile = directory.appendingPathComponent("provider-users-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: users).write(to: usersFile)
        let portFile = directory.appendingPathComponent("provider-\(UUID().uuidString).port")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ConsoleBrowserTests.python)
        process.arguments = [
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/oidc_provider.py").path,
            "--port-file", portFile.path, "--state", directory.appendingPathComponent("provider-\(UUID().uuidString)").path,
            "--client-id", "portcullis", "--client-secret", secret, "--users", usersFile.path,
        ]
        let log = directory.appendingPathComponent("provider.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, handle, handle)
        try process.run()
        for _ in 0..<600 {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) { return Provider(process: process, port: port) }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw PortcullisProcess.Failure(description: "the OpenID provider did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    static func federation(issuer: String, secretFile: String) -> String {
        """
        federation:
          providers:
            - id: corp
              name: Logistics SSO
              issuer: \(issuer)
              client_id: portcullis
              client_secret_file: \(secretFile)
              scopes: [openid, email, profile]
              create_users: true
              groups:
                logistics-dispatch: [role:dispatcher]
        """
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
        try #require(ConsoleBrowserTests.pythonHas("oauth2_provider"), "django-oauth-toolkit is required (scripts/test installs it)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("federation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = "client-secret-" + UUID().uuidString
        let secretFile = directory.appendingPathComponent("corp.secret")
        try secret.write(to: secretFile, atomically: true, encoding: .utf8)
        let provider = try await Self.provider(
            [
                ["username": "olga", "password": "olga-at-the-provider-2026", "email": "olga@logistics.example", "groups": ["logistics-dispatch"]],
                ["username": "pete", "password": "pete-at-the-provider-2026", "email": "pete@logistics.example", "groups": ["warehouse"]],
            ], secret: secret, in: directory)
        defer { provider.process.terminate() }
        try await GatewayFixture.run(
            policies: Self.policies, routes: Self.routes, sections: Self.federation(issuer: provider.issuer, secretFile: secretFile.path)
        ) { gateway in
            _ = try await gateway.cli(["role", "add", "dispatcher"])
            try provider.register(redirectURI: "https://\(GatewayFixture.signInHost):\(gateway.gatewayPort)/.portcullis/federation/corp/callback")

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

            let audit = try await gateway.cli(["audit", "search", "--principal", "olga", "--limit", "50"])
            #expect(audit.contains("federation.create") && audit.contains("fed:corp"), "\(audit)")
        }
    }
}
