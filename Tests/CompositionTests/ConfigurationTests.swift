import Database
import Foundation
import Gateway
import Testing

@testable import Composition

@Suite struct ConfigurationTests {
    func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigurationError) -> PortcullisConfiguration {
        var configuration = PortcullisConfiguration()
        try configuration.apply(yaml: yaml, file: "portcullis.yaml")
        try configuration.apply(environment: environment)
        return configuration
    }

    @Test func embeddedDefaults() throws {
        let configuration = try PortcullisConfiguration.load(path: nil, environment: [:])
        #expect(configuration.admin.listen == ListenAddress(host: "127.0.0.1", port: 9090))
        #expect(configuration.log.format == .json)
        #expect(configuration.database.url == nil)
        #expect(configuration.database.feedLiveness.timeout == .seconds(5))
        #expect(throws: ConfigurationError.self) { try configuration.requireDatabaseURL() }
    }

    @Test func readsEveryField() throws {
        let configuration = try load(
            """
            database:
              url: postgres://app@db:5433/portcullis
              pool:
                min_connections: 2
                max_connections: 30
                connect_timeout: 1500ms
              feed_timeout: 2s
            admin:
              listen: "[::1]:9191"
            log:
              level: debug
              format: text
            """)
        #expect(configuration.database.url?.endpoint == .tcp(host: "db", port: 5433))
        #expect(configuration.database.pool == .init(minimumConnections: 2, maximumConnections: 30, connectTimeout: .milliseconds(1500)))
        #expect(configuration.database.feedLiveness == FeedLiveness(timeout: .seconds(2)))
        #expect(configuration.admin.listen == ListenAddress(host: "::1", port: 9191))
        #expect(configuration.log.level == .debug)
        #expect(configuration.log.format == .text)
    }

    @Test func readsTheWorkloadAPIKeys() throws {
        let configuration = try load(
            """
            identity:
              ca_directory: /etc/portcullis/ca
              certificate_ttl: 15m
              gateway_route: identity-api
            """)
        #expect(configuration.identity.caDirectory == "/etc/portcullis/ca")
        #expect(configuration.identity.settings.workload.certificateLifetime == 900)
        #expect(configuration.identity.settings.workload.gatewayRoute == "identity-api")
        #expect(PortcullisConfiguration().identity.settings.workload.certificateLifetime == 3600)
        #expect(throws: ConfigurationError.self) { try load("identity:\n  certificate_ttl: 90d\n") }
    }

    @Test func readsThePolicySource() throws {
        #expect(PortcullisConfiguration().policies.source == .files)
        let configuration = try load("policies:\n  source: database\n")
        #expect(configuration.policies.source == .database)
        #expect(configuration.policies.directory == "policies")
        do {
            _ = try load("policies:\n  source: etcd\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("portcullis.yaml:2:11:"), "\(error)")
            #expect(error.description.contains("files, database"), "\(error)")
        }
    }

    @Test func environmentOverridesTheFile() throws {
        let configuration = try load(
            "database:\n  url: postgres://app@file-host/db\n",
            environment: ["PORTCULLIS_DATABASE_URL": "postgres://app@env-host/db", "PORTCULLIS_LOG_LEVEL": "error"])
        #expect(configuration.database.url?.endpoint == .tcp(host: "env-host", port: 5432))
        #expect(configuration.log.level == .error)
    }

    @Test func unknownKeyNamesPathAndLine() {
        #expect(
            throws: ConfigurationError.unknownKey(
                SourceLocation(file: "portcullis.yaml", line: 3, column: 5), path: "database.pool.max_conections",
                allowed: ["connect_timeout", "max_connections", "min_connections"])
        ) {
            try load("database:\n  pool:\n    max_conections: 5\n")
        }
    }

    @Test func wrongTypeNamesPathAndLine() throws {
        do {
            _ = try load("log:\n  level: info\nadmin:\n  listen: {host: x}\n")
            Issue.record("expected an error")
        } catch {
            #expect(error == .wrongType(SourceLocation(file: "portcullis.yaml", line: 4, column: 11), path: "admin.listen", expected: "host:port"))
            #expect(error.description.hasPrefix("portcullis.yaml:4:11: 'admin.listen' must be host:port"))
        }
    }

    /// The sign-in host serves no upstream: a route that also serves it (exactly or by a
    /// wildcard) is refused with the route named, at the setting's line and column.
    @Test func theSignInHostIsNeverARouteHost() throws {
        let routes = """
            gateway:
              routes:
                - id: tools
                  hosts: [shipments.corp.example, "*.tools.corp.example"]
                  path: /
                  upstream: http://127.0.0.1:9000
              sign_in_host: %@

            """
        let configured = try load(routes.replacingOccurrences(of: "%@", with: "auth.corp.example"))
        #expect(configured.gateway.settings.signInHost == (try SignInHost(host: "auth.corp.example")))
        #expect(try load(routes.replacingOccurrences(of: "%@", with: "auth.corp.example:443")).gateway.settings.signInHost?.port == 443)
        for host in ["shipments.corp.example", "auth.tools.corp.example"] {
            do {
                _ = try load(routes.replacingOccurrences(of: "%@", with: host))
                Issue.record("\(host) was accepted as the sign-in host")
            } catch {
                #expect(
                    error
                        == .invalidValue(
                            SourceLocation(file: "portcullis.yaml", line: 7, column: 17), path: "gateway.sign_in_host",
                            reason: "'\(host)' is also a host of route 'tools'; the sign-in host must serve no upstream"))
            }
        }
        for bad in ["Auth.corp.example", "auth.corp.example/", "https://auth.corp.example", "auth.corp.example:0", "[::1]", ""] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try load(routes.replacingOccurrences(of: "%@", with: "'\(bad)'")) }
        }
    }

    /// The `federation` section: a full provider read as written, and each mistake refused with
    /// its file position and what was expected.
    @Test func federationProvidersAreReadAndEveryMistakeIsLocated() throws {
        let secretFile = FileManager.default.temporaryDirectory.appendingPathComponent("federation-\(UUID().uuidString).secret")
        try "s3cret\n".write(to: secretFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: secretFile) }
        func yaml(_ provider: String, signInHost: Bool = true) -> String {
            """
            gateway:
            \(signInHost ? "  sign_in_host: auth.corp.example\n" : "")  routes:
                - {id: tools, hosts: [tools.corp.example], upstream: 'http://127.0.0.1:9000'}
            federation:
              local_sign_in_roles: [security-admin]
              providers:
                - id: corp
                  issuer: https://login.corp.example/realms/staff
                  client_id: portcullis
                  client_secret_file: \(secretFile.path)
            \(provider)
            """
        }
        let full = try load(
            yaml(
                """
                      name: Corp SSO
                      scopes: [openid, email, offline_access]
                      claims: {login: email, groups: roles}
                      authorization_parameters: {access_type: offline, prompt: consent}
                      create_users: false
                      link_verified_email_domains: [Corp.Example]
                      mfa_amr: [mfa]
                      mfa_acr: [gold]
                      revalidate_every: 2m
                      unreachable_grace: 10m
                      groups:
                        dispatch: [role:dispatcher, group:night-shift]
                """))
        let provider = try #require(full.federation.first)
        #expect(provider.displayName == "Corp SSO" && provider.clientSecret == "s3cret" && provider.loginClaim == "email")
        #expect(provider.groupsClaim == "roles" && provider.scopes == ["openid", "email", "offline_access"])
        #expect(provider.authorizationParameters == ["access_type": "offline", "prompt": "consent"])
        #expect(!provider.createUsers && provider.linkVerifiedEmailDomains == ["corp.example"] && provider.mfaACR == ["gold"])
        #expect(provider.revalidateEvery == 120 && provider.unreachableGrace == 600)
        #expect(provider.groupMapping.grants(for: ["dispatch", "other"]) == .init(roles: ["dispatcher"], groups: ["night-shift"]))

        let refused: [(String, String)] = [
            ("      scopes: [email]\n", "the scopes must include openid"),
            ("      groups: {dispatch: [dispatcher]}\n", "'dispatcher' must be role:<name> or group:<name>"),
            ("      authorization_parameters: {nonce: fixed}\n", "'nonce' is set by Portcullis"),
            ("      revalidate_every: 2d\n", "revalidate_every"),
            ("      colour: red\n", "portcullis.yaml:12:7"),
        ]
        for (extra, expected) in refused {
            #expect(throws: ConfigurationError.self, "\(extra)") { try load(yaml(extra)) }
            do { _ = try load(yaml(extra)) } catch { #expect("\(error)".contains(expected), "\(extra): \(error)") }
        }
        let plainHTTP = yaml("").replacingOccurrences(of: "https://login", with: "http://login")
        #expect { try load(plainHTTP) } throws: { "\($0)".contains("portcullis.yaml:9:15") && "\($0)".contains("not an https URL") }
        let unreadable = yaml("").replacingOccurrences(of: secretFile.path, with: "/nonexistent/secret")
        #expect { try load(unreadable) } throws: { "\($0)".contains("cannot read a secret from /nonexistent/secret") }
        #expect { try load(yaml("", signInHost: false)) } throws: { "\($0)".contains("sign_in_host") }
        #expect { try load(yaml("").replacingOccurrences(of: "id: corp", with: "id: Corp")) } throws: { "\($0)".contains("lower-case") }
    }

    @Test func invalidValuesAreRefusedWithTheReason() {
        #expect(throws: ConfigurationError.self) { try load("database:\n  pool:\n    max_connections: ten\n") }
        #expect(throws: ConfigurationError.self) { try load("database:\n  pool:\n    max_connections: 0\n") }
        #expect(throws: ConfigurationError.self) { try load("database:\n  pool:\n    min_connections: 9\n    max_connections: 2\n") }
        #expect(throws: ConfigurationError.self) { try load("database:\n  url: mysql://x@y/z\n") }
        #expect(throws: ConfigurationError.self) { try load("database:\n  feed_timeout: 100ms\n") }
        #expect(throws: ConfigurationError.self) { try load("database:\n  feed_timeout: 1h\n") }
        #expect(throws: ConfigurationError.self) { try load("log:\n  format: xml\n") }
        #expect(throws: ConfigurationError.self) { try load("log:\n  format: json\n  format: text\n") }
        #expect(throws: ConfigurationError.self) { try load("- just\n- a list\n") }
    }

    @Test func gatewayLimitsRedirectAndUpstreamTLSAreReadAndChecked() throws {
        let gateway = """
            gateway:
              redirect_listen: 0.0.0.0:8080
              limits: {max_connections: 500, handshake_timeout: 3s, idle_timeout: 15s, max_header_kb: 16, max_header_count: 50}
              routes:
            """
        let configuration = try load(gateway + "\n    - {id: a, hosts: [a.internal], upstream: 'http://10.0.0.1:80'}\n")
        let settings = configuration.gateway.settings
        #expect(settings.redirectListen?.host == "0.0.0.0" && settings.redirectListen?.port == 8080)
        #expect(settings.limits.maxConnections == 500 && settings.limits.handshakeTimeout == .seconds(3))
        #expect(settings.limits.idleTimeout == .seconds(15) && settings.limits.maxHeaderBytes == 16 << 10)
        #expect(settings.limits.maxHeaderCount == 50)
        // Upstream TLS files only for https upstreams, in pairs, and readable when loaded.
        #expect(throws: ConfigurationError.self) {
            try load(gateway + "\n    - {id: a, hosts: [a.internal], upstream: 'http://10.0.0.1:80', upstream_ca: /etc/hosts}\n")
        }
        #expect(throws: ConfigurationError.self) {
            try load(gateway + "\n    - {id: a, hosts: [a.internal], upstream: 'https://10.0.0.1', upstream_certificate: /nonexistent.pem}\n")
        }
        #expect(throws: ConfigurationError.self) {
            try load(gateway + "\n    - {id: a, hosts: [a.internal], upstream: 'https://10.0.0.1', upstream_ca: /nonexistent.pem}\n")
        }
        #expect(throws: ConfigurationError.self) { try load("gateway:\n  limits: {max_connections: 0}\n") }
    }

    /// HTTP/2 towards upstreams (issue 23): `h2` over TLS and `h2c` over TCP, each only with its
    /// scheme, and a positive stream lifetime; mistakes name the line and column.
    @Test func upstreamProtocolAndStreamLifetimeAreReadAndChecked() throws {
        let routes = "gateway:\n  routes:\n    - {id: a, hosts: [a.internal], "
        let plain = try load(routes + "upstream: 'http://10.0.0.1:80'}\n").gateway.routes[0]
        #expect(plain.upstreamProtocol == .http1 && plain.maxStreamLifetime == .seconds(86_400))
        let grpc = try load(routes + "upstream: 'http://10.0.0.1:80', upstream_protocol: h2c, max_stream_lifetime: 8h}\n").gateway.routes[0]
        #expect(grpc.upstreamProtocol == .h2c && grpc.maxStreamLifetime == .seconds(8 * 3600))
        #expect(try load(routes + "upstream: 'https://10.0.0.1', upstream_protocol: h2}\n").gateway.routes[0].upstreamProtocol == .h2)
        #expect { try load(routes + "upstream: 'http://10.0.0.1', upstream_protocol: h2}\n") } throws: {
            "\($0)".contains(":3:84:") && "\($0)".contains("needs an https:// upstream")
        }
        #expect { try load(routes + "upstream: 'https://10.0.0.1', upstream_protocol: h2c}\n") } throws: {
            "\($0)".contains("needs an http:// upstream")
        }
        #expect { try load(routes + "upstream: 'http://10.0.0.1', upstream_protocol: http2}\n") } throws: {
            "\($0)".contains("one of http1, h2, h2c")
        }
        #expect { try load(routes + "upstream: 'http://10.0.0.1', max_stream_lifetime: 0s}\n") } throws: {
            "\($0)".contains("longer than 0s")
        }
    }

    /// A route's CORS: origins as browsers send them, the documented defaults, and mistakes
    /// (a wildcard, a path, no origin, a method in lower case) named with their line and column.
    @Test func routeCORSIsReadAndChecked() throws {
        let routes = "gateway:\n  routes:\n    - {id: a, hosts: [a.internal], upstream: 'http://10.0.0.1:80', "
        #expect(try load(routes + "}\n").gateway.routes[0].crossOrigin == nil)
        let read = try #require(
            try load(
                routes + "cors: {origins: ['https://Dispatch.example:443', 'http://127.0.0.1:8080'], methods: [GET, PUT], "
                    + "headers: [Content-Type, X-Grpc-Web], expose: [grpc-status], credentials: false, max_age: 1h}}\n"
            ).gateway.routes[0].crossOrigin)
        #expect(read.origins == ["https://dispatch.example", "http://127.0.0.1:8080"] && read.methods == ["GET", "PUT"])
        #expect(read.headers == ["content-type", "x-grpc-web"] && read.exposedHeaders == ["grpc-status"])
        #expect(!read.credentials && read.maxAge == .seconds(3600))
        let defaults = try #require(try load(routes + "cors: {origins: [https://dispatch.example]}}\n").gateway.routes[0].crossOrigin)
        #expect(defaults == CrossOriginPolicy(origins: ["https://dispatch.example"]))
        #expect { try load(routes + "cors: {origins: ['https://*.example']}}\n") } throws: {
            "\($0)".contains(":3:84:") && "\($0)".contains("'https://*.example' is not an origin")
        }
        #expect { try load(routes + "cors: {origins: [https://dispatch.example/app]}}\n") } throws: { "\($0)".contains("is not an origin") }
        #expect { try load(routes + "cors: {methods: [GET]}}\n") } throws: { "\($0)".contains("origins") }
        #expect { try load(routes + "cors: {origins: [https://a.example], methods: [get]}}\n") } throws: {
            "\($0)".contains("'get' is not an HTTP method in upper case")
        }
        #expect { try load(routes + "cors: {origins: [https://a.example], allow: all}}\n") } throws: { "\($0)".contains("allow") }
    }

    /// A route's request-body pace (issue 18, item 11): read when given, the documented
    /// defaults otherwise, and a negative rate refused.
    @Test func routeBodyPaceIsReadWithDocumentedDefaults() throws {
        let routes = "gateway:\n  routes:\n    - {id: a, hosts: [a.internal], upstream: 'http://10.0.0.1:80'"
        let paced = try load(routes + ", body_timeout: 30s, min_body_bytes_per_second: 4096}\n").gateway.routes[0].bodyPace
        #expect(paced == BodyPace(timeout: .seconds(30), minimumBytesPerSecond: 4096))
        #expect(try load(routes + "}\n").gateway.routes[0].bodyPace == BodyPace(timeout: .seconds(120), minimumBytesPerSecond: 1024))
        #expect(throws: ConfigurationError.self) { try load(routes + ", min_body_bytes_per_second: -1}\n") }
    }

    @Test func missingRequiredFieldIsNamed() throws {
        let configuration = try load("log:\n  level: info\n")
        #expect(
            throws: ConfigurationError.missing(
                SourceLocation(file: "portcullis.yaml", line: 1, column: 1), path: "database.url",
                hint: "set it in the configuration file or in PORTCULLIS_DATABASE_URL")
        ) { try configuration.requireDatabaseURL() }
    }

    @Test func syntaxErrorsCarryLineAndColumn() {
        #expect {
            try load("database:\n  url: [unclosed\n")
        } throws: { error in
            guard case ConfigurationError.syntax(let location, _) = error else { return false }
            return location.file == "portcullis.yaml" && location.line >= 2
        }
    }

    @Test func aRefusedFileChangesNothing() {
        var configuration = PortcullisConfiguration()
        #expect(throws: ConfigurationError.self) {
            try configuration.apply(yaml: "log:\n  level: debug\nbogus: 1\n", file: "portcullis.yaml")
        }
        #expect(configuration.log.level == .info)
    }

    @Test func badEnvironmentValuesAreRefused() {
        #expect(throws: ConfigurationError.invalidEnvironment(variable: "PORTCULLIS_ADMIN_LISTEN", reason: "expected host:port, got 'nope'")) {
            try load("", environment: ["PORTCULLIS_ADMIN_LISTEN": "nope"])
        }
    }

    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("5s", .seconds(5)), ("10m", .seconds(600)), ("1h", .seconds(3600)), ("2d", .seconds(172_800)),
    ])
    func durations(_ text: String, _ expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(arguments: ["", "s", "5", "-5s", "5 s", "1.5s", "5w"])
    func rejectedDurations(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }
}

/// The demo organisation `portcullis up` seeds.
@Suite struct DemoSeedTests {
    @Test func theShippedSeedIsComplete() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/demo/seed.yaml").path
        let seed = try DemoSeed.load(path: path)
        #expect(Set(seed.roles.map(\.name)) == ["staff", "dispatcher", "driver", "finance", "ops-admin", "security-admin"])
        #expect(seed.users.contains { $0.login == "casey" && $0.groups == ["contractors"] })
        #expect(seed.users.filter { $0.totpSecret != nil }.map(\.login) == ["sam"])
        #expect(seed.services.map(\.spiffeID) == ["spiffe://logistics.internal/billing", "spiffe://logistics.internal/fleet-sync"])
        let provider = try #require(seed.identityProvider)
        #expect(provider.people.map(\.username) == ["nadia", "felix", "pat"])
        #expect(provider.groups.grants(for: ["logistics-dispatch"]).roles == ["dispatcher"])
        // Every role the mapping grants exists in the seed; people are new logins (created at first sign-in).
        #expect(provider.groups.managed.roles.isSubset(of: Set(seed.roles.map(\.name))))
        #expect(Set(provider.people.map(\.username)).isDisjoint(with: seed.users.map(\.login)))
        // Parents are declared before their children, so applying in order always works.
        var declared = Set<String>()
        for role in seed.roles {
            #expect(role.parents.allSatisfy(declared.contains), "\(role.name) names a parent declared after it")
            declared.insert(role.name)
        }
    }

    @Test func aBadSeedNamesTheEntry() {
        #expect(throws: ConfigurationError.self) { try DemoSeed.parse("users:\n  - {login: a, email: a@b.c}\n", file: "seed.yaml") }
        #expect(throws: ConfigurationError.self) { try DemoSeed.parse("roles:\n  - {name: a, colour: red}\n", file: "seed.yaml") }
        let weak = "users:\n  - {login: a, email: a@b.c, password: p,\n     totp_secret: ABCDEFGH}\n"
        #expect { try DemoSeed.parse(weak, file: "seed.yaml") } throws: { "\($0)".contains("seed.yaml:3:") && "\($0)".contains("128 bits") }
        let mapping = "identity_provider:\n  id: corp\n  name: Corp\n  groups:\n    a: [admin]\n"
        #expect { try DemoSeed.parse(mapping, file: "seed.yaml") } throws: { "\($0)".contains("seed.yaml:5:") && "\($0)".contains("role:<name>") }
    }
}
