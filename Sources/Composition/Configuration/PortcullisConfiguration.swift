import AccessModel
import Audit
import Database
import Federation
import Foundation
import Gateway
import Identity
import Logging
import Tokens
import Yams

/// Everything a Portcullis process is configured with. Every field has an embedded default
/// except `database.url`, so `portcullis serve` runs with no file at all once it knows its database.
/// Each field is documented in `docs/configuration.md`.
public struct PortcullisConfiguration: Sendable {
    public struct DatabaseSection: Sendable {
        public var url: DatabaseURL?
        public var pool = Database.PoolSettings()
        /// How long a LISTEN feed (revocations and identity changes, policy versions) may go
        /// without an answer on its connection before requests that depend on it are refused.
        public var feedLiveness = FeedLiveness()
    }

    public struct AdminSection: Sendable {
        /// The operations listener (`/healthz`, `/readyz`); never reachable through routes.
        public var listen = ListenAddress(host: "127.0.0.1", port: 9090)
    }

    public struct LogSection: Sendable {
        public enum Format: String, Sendable, CaseIterable { case json, text }
        public enum Level: String, Sendable, CaseIterable {
            case trace, debug, info, notice, warning, error, critical
            var loggerLevel: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
        }
        public var level: Level = .info
        public var format: Format = .json
    }

    public struct AuditSection: Sendable {
        /// Where batches wait while PostgreSQL is unreachable. Relative paths are from the working directory.
        public var spoolDirectory = ".portcullis/audit-spool"
        public var spoolLimitMegabytes = 1024
        public var overflow: AuditOverflowPolicy = .failClosed
        public var durability: AuditDurability = .afterResponse
        public var retentionDays = 400
        public var partitionsAhead = 7
        public var queueCapacity = 100_000
        public var batchSize = 1_000
        public var flushInterval: Duration = .milliseconds(100)
        /// How often a running writer signs its chain head (when it advanced).
        public var checkpointInterval: Duration = .seconds(60)
        /// `-` for standard output, a path for a size-rotated file, nil for no export.
        public var exportFile: String?
        public var exportMaxMegabytes = 100
        public var exportKeep = 5
        /// The append-only anchor file (``AuditAnchorLog``); nil: `audit-anchors.jsonl` beside the
        /// spool directory.
        public var anchorFile: String?

        /// `anchorFile`, or its default beside the spool directory.
        public var anchorPath: String {
            anchorFile ?? URL(fileURLWithPath: spoolDirectory).deletingLastPathComponent().appendingPathComponent("audit-anchors.jsonl").path
        }

        /// The pipeline settings these fields describe.
        public var pipeline: AuditPipeline.Configuration {
            var configuration = AuditPipeline.Configuration(spoolDirectory: URL(fileURLWithPath: spoolDirectory))
            configuration.spoolLimitBytes = spoolLimitMegabytes << 20
            configuration.overflow = overflow
            configuration.durability = durability
            configuration.retentionDays = retentionDays
            configuration.partitionsAhead = partitionsAhead
            configuration.queueCapacity = queueCapacity
            configuration.batchSize = batchSize
            configuration.flushInterval = flushInterval
            configuration.checkpointInterval = checkpointInterval
            configuration.exportSink = exportFile.map { path in
                AuditExportSink(path == "-" ? .standardOutput : .file(path: path, maxBytes: exportMaxMegabytes << 20, keep: exportKeep))
            }
            configuration.anchorLog = AuditAnchorLog(path: anchorPath)
            return configuration
        }
    }

    public struct KeysSection: Sendable {
        /// The master key (32 bytes raw, hex or base64); `PORTCULLIS_MASTER_KEY` takes precedence.
        public var masterKeyFile: String?
    }

    public struct IdentitySection: Sendable {
        /// The identity API (login, token endpoint, keys, admin). Runs when a master key is configured.
        public var listen = ListenAddress(host: "127.0.0.1", port: 8081)
        public var settings = IdentitySettings()
        /// The CA directory (`portcullis ca init --out`) whose intermediate signs Workload API
        /// certificates; nil leaves `/v1/certs/…` unconfigured (503).
        public var caDirectory: String?
    }

    public struct PoliciesSection: Sendable {
        /// Where the policy set deciding every request (the admin API's included) comes from.
        public enum Source: String, Sendable, CaseIterable {
            /// `directory`, re-read when a file changes: one node, or files shipped by other means.
            case files
            /// The active version of the policy store (`portcullis policy push`), followed by NOTIFY: a fleet.
            case database
        }
        public var source: Source = .files
        /// `*.cedar` files deciding every request with `source: files`.
        public var directory = "policies"
    }

    public struct GatewaySection: Sendable {
        /// Runs when configured (a `gateway` section is present).
        public var enabled = false
        public var settings = GatewaySettings()
        /// The SPIFFE trust domain client certificates must belong to (with `client_ca`).
        public var trustDomain: String?
        public var routes: [RouteSettings] = []
    }

    public var database = DatabaseSection()
    public var gateway = GatewaySection()
    /// Identity providers people sign in with on the sign-in host (OpenID Connect).
    public var federation: [ProviderSettings] = []
    public var identity = IdentitySection()
    public var policies = PoliciesSection()
    public var admin = AdminSection()
    public var audit = AuditSection()
    public var keys = KeysSection()
    public var log = LogSection()
    /// The file this configuration came from, for messages; nil when only defaults were used.
    public var sourceFile: String?

    public init() {}

    /// The database URL, or the error an operator needs when there is none.
    public func requireDatabaseURL() throws(ConfigurationError) -> DatabaseURL {
        guard let url = database.url else {
            throw .missing(
                SourceLocation(file: sourceFile ?? "(embedded defaults)", line: 1, column: 1), path: "database.url",
                hint: "set it in the configuration file or in PORTCULLIS_DATABASE_URL")
        }
        return url
    }
}

/// Environment variables that override the file: secrets and URLs are commonly injected this way.
public enum ConfigurationEnvironment {
    public static let databaseURL = "PORTCULLIS_DATABASE_URL"
    public static let adminListen = "PORTCULLIS_ADMIN_LISTEN"
    public static let logLevel = "PORTCULLIS_LOG_LEVEL"
    public static let logFormat = "PORTCULLIS_LOG_FORMAT"
    public static let configFile = "PORTCULLIS_CONFIG"
    public static let masterKeyFile = "PORTCULLIS_MASTER_KEY_FILE"
    public static let identityListen = "PORTCULLIS_IDENTITY_LISTEN"
}

extension PortcullisConfiguration {
    /// Loads `path` (when given) over the embedded defaults, then applies environment overrides.
    /// Any problem is a `ConfigurationError` and nothing of the file is used.
    public static func load(
        path: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> PortcullisConfiguration {
        var configuration = PortcullisConfiguration()
        if let path {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw .unreadable(file: path, reason: (error as NSError).localizedDescription)
            }
            try configuration.apply(yaml: text, file: path)
        }
        try configuration.apply(environment: environment)
        return configuration
    }

    /// Applies a YAML document; exposed for tests and for validating a file before a reload.
    public mutating func apply(yaml: String, file: String) throws(ConfigurationError) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw Self.syntaxError(error, file: file)
        } catch {
            throw .syntax(SourceLocation(file: file, line: 1, column: 1), "\(error)")
        }
        guard let root else {
            sourceFile = file
            return
        }  // an empty file means "all defaults"
        var updated = self
        var top = try MappingReader(root, path: "", file: file)
        if var section = try top.mapping("database") {
            updated.database.url = try section.parsed("url", expected: "a postgres:// URL") { try DatabaseURL($0) }
            if var pool = try section.mapping("pool") {
                let defaults = updated.database.pool
                updated.database.pool.minimumConnections = try pool.integer("min_connections", in: 0...1000) ?? defaults.minimumConnections
                updated.database.pool.maximumConnections = try pool.integer("max_connections", in: 1...1000) ?? defaults.maximumConnections
                updated.database.pool.connectTimeout = try pool.duration("connect_timeout") ?? defaults.connectTimeout
                try pool.finish()
                if updated.database.pool.minimumConnections > updated.database.pool.maximumConnections {
                    throw .invalidValue(
                        pool.location, path: "database.pool",
                        reason: "min_connections exceeds max_connections")
                }
            }
            if let timeout = try section.duration("feed_timeout") {
                guard timeout >= .milliseconds(500), timeout <= .seconds(300) else {
                    throw .invalidValue(
                        section.location(of: "feed_timeout"), path: "database.feed_timeout",
                        reason: "expected a duration between 500ms and 5m")
                }
                updated.database.feedLiveness.timeout = timeout
            }
            try section.finish()
        }
        if var section = try top.mapping("admin") {
            updated.admin.listen = try section.parsed("listen", expected: "host:port") { try ListenAddress($0) } ?? updated.admin.listen
            try section.finish()
        }
        if var section = try top.mapping("audit") {
            let defaults = updated.audit
            updated.audit.spoolDirectory = try section.string("spool_directory") ?? defaults.spoolDirectory
            updated.audit.spoolLimitMegabytes = try section.integer("spool_limit_mb", in: 1...1_048_576) ?? defaults.spoolLimitMegabytes
            updated.audit.overflow = try section.choice("overflow", of: AuditOverflowPolicy.self) ?? defaults.overflow
            updated.audit.durability = try section.choice("durability", of: AuditDurability.self) ?? defaults.durability
            updated.audit.retentionDays = try section.integer("retention_days", in: 1...36_500) ?? defaults.retentionDays
            updated.audit.partitionsAhead = try section.integer("partitions_ahead", in: 1...366) ?? defaults.partitionsAhead
            updated.audit.queueCapacity = try section.integer("queue_capacity", in: 1...10_000_000) ?? defaults.queueCapacity
            updated.audit.batchSize = try section.integer("batch_size", in: 1...100_000) ?? defaults.batchSize
            updated.audit.flushInterval = try section.duration("flush_interval") ?? defaults.flushInterval
            updated.audit.checkpointInterval = try section.duration("checkpoint_interval") ?? defaults.checkpointInterval
            updated.audit.exportFile = try section.string("export_file") ?? defaults.exportFile
            updated.audit.exportMaxMegabytes = try section.integer("export_max_mb", in: 1...1_048_576) ?? defaults.exportMaxMegabytes
            updated.audit.exportKeep = try section.integer("export_keep", in: 0...1000) ?? defaults.exportKeep
            updated.audit.anchorFile = try section.string("anchor_file") ?? defaults.anchorFile
            try section.finish()
        }
        if var section = try top.mapping("identity") {
            updated.identity.listen = try section.parsed("listen", expected: "host:port") { try ListenAddress($0) } ?? updated.identity.listen
            var settings = updated.identity.settings
            settings.issuer = try section.string("issuer") ?? settings.issuer
            settings.audience = try section.strings("audience") ?? settings.audience
            settings.accessTokenLifetime = try section.duration("access_token_ttl").map(\.seconds) ?? settings.accessTokenLifetime
            settings.sessionLifetime = try section.duration("session_ttl").map(\.seconds) ?? settings.sessionLifetime
            settings.refreshTokenLifetime = try section.duration("refresh_token_ttl").map(\.seconds) ?? settings.refreshTokenLifetime
            settings.serviceSecretLifetime = try section.duration("client_secret_ttl").map(\.seconds) ?? settings.serviceSecretLifetime
            settings.throttle.maxFailuresPerLogin = try section.integer("login_max_failures", in: 1...1000) ?? settings.throttle.maxFailuresPerLogin
            settings.throttle.maxFailuresPerAddress =
                try section.integer("address_max_failures", in: 1...100_000)
                ?? settings.throttle.maxFailuresPerAddress
            settings.throttle.window = try section.duration("login_window").map(\.seconds) ?? settings.throttle.window
            settings.trustedProxies = try section.strings("trusted_proxies").map(Set.init) ?? settings.trustedProxies
            settings.adminRoute = try section.string("admin_route") ?? settings.adminRoute
            updated.identity.caDirectory = try section.string("ca_directory") ?? updated.identity.caDirectory
            if let ttl = try section.duration("certificate_ttl") {
                guard ttl >= .seconds(1), ttl <= .seconds(30 * 86_400) else {
                    throw .invalidValue(
                        section.location(of: "certificate_ttl"), path: "identity.certificate_ttl",
                        reason: "expected a lifetime between 1s and 30d")
                }
                settings.workload.certificateLifetime = ttl.seconds
            }
            settings.workload.gatewayRoute = try section.string("gateway_route") ?? settings.workload.gatewayRoute
            if let cost = try section.choice("password_cost", of: PasswordCost.self) { settings.passwordPolicy = cost.policy }
            try section.finish()
            updated.identity.settings = settings
        }
        if var section = try top.mapping("gateway") {
            updated.gateway = try Self.gateway(&section, defaults: updated.gateway)
        }
        if var section = try top.mapping("federation") {
            (updated.federation, updated.identity.settings.localSignInRoles) = try Self.federation(&section)
            if !updated.federation.isEmpty && updated.gateway.settings.signInHost == nil {
                throw .missing(top.location(of: "federation"), path: "gateway.sign_in_host", hint: "federation happens on the sign-in host")
            }
        }
        if var section = try top.mapping("policies") {
            updated.policies.source = try section.choice("source", of: PoliciesSection.Source.self) ?? updated.policies.source
            updated.policies.directory = try section.string("directory") ?? updated.policies.directory
            try section.finish()
        }
        if var section = try top.mapping("keys") {
            updated.keys.masterKeyFile = try section.string("master_key_file") ?? updated.keys.masterKeyFile
            try section.finish()
        }
        if var section = try top.mapping("log") {
            updated.log.level = try section.choice("level", of: LogSection.Level.self) ?? updated.log.level
            updated.log.format = try section.choice("format", of: LogSection.Format.self) ?? updated.log.format
            try section.finish()
        }
        try top.finish()
        updated.sourceFile = file
        self = updated
    }

    private static func gateway(_ section: inout MappingReader, defaults: GatewaySection) throws(ConfigurationError) -> GatewaySection {
        var gateway = defaults
        gateway.enabled = true
        if let listen = try section.parsed("listen", expected: "host:port", { try ListenAddress($0) }) {
            gateway.settings.host = listen.host
            gateway.settings.port = listen.port
        }
        gateway.settings.certificateFile = try section.string("certificate") ?? gateway.settings.certificateFile
        gateway.settings.keyFile = try section.string("key") ?? gateway.settings.keyFile
        gateway.settings.clientCAFile = try section.string("client_ca") ?? gateway.settings.clientCAFile
        gateway.trustDomain = try section.string("trust_domain") ?? gateway.trustDomain
        if gateway.settings.clientCAFile != nil && gateway.trustDomain == nil {
            throw .missing(section.location, path: "gateway.trust_domain", hint: "client certificates are checked against a SPIFFE trust domain")
        }
        gateway.settings.sessionIdleTimeout = try section.duration("session_idle_timeout").map(\.seconds) ?? gateway.settings.sessionIdleTimeout
        gateway.settings.tokenIssuers = try section.strings("token_issuers") ?? gateway.settings.tokenIssuers
        gateway.settings.tokenAudiences = try section.strings("token_audiences") ?? gateway.settings.tokenAudiences
        if let redirect = try section.parsed("redirect_listen", expected: "host:port", { try ListenAddress($0) }) {
            gateway.settings.redirectListen = (redirect.host, redirect.port)
        }
        if var limits = try section.mapping("limits") {
            gateway.settings.limits = try Self.limits(&limits, defaults: gateway.settings.limits)
        }
        if var routes = try section.mappings("routes") {
            let location = section.location(of: "routes")
            var parsed: [RouteSettings] = []
            for index in routes.indices { parsed.append(try route(&routes[index])) }
            do {
                _ = try RouteSettings.table(parsed)
            } catch {
                throw .invalidValue(location, path: "gateway.routes", reason: error.description)
            }
            gateway.routes = parsed
        }
        let signInLocation = section.location(of: "sign_in_host")
        if let signIn = try section.parsed("sign_in_host", expected: "a host name, optionally with :port", Self.signInHost) {
            // The sign-in host shares an origin with no upstream: the console and the sign-in
            // forms must be out of reach of every upstream page's scripts.
            if let table = try? RouteSettings.table(gateway.routes), table.serves(host: signIn.host) {
                let route = table.routes.first { $0.hosts.contains { $0.matches(signIn.host) } }?.id ?? "?"
                throw .invalidValue(
                    signInLocation, path: "gateway.sign_in_host",
                    reason: "'\(signIn.host)' is also a host of route '\(route)'; the sign-in host must serve no upstream")
            }
            gateway.settings.signInHost = signIn
        }
        try section.finish()
        return gateway
    }

    /// `auth.example.com` (links use the port each request arrived on) or `auth.example.com:443`.
    private static func signInHost(_ text: String) throws -> SignInHost {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw SignInHostError.notAHostName(text) }
        guard parts.count == 2 else { return try SignInHost(host: text) }
        guard let port = Int(parts[1]) else { throw SignInHostError.invalidPort(-1) }
        return try SignInHost(host: String(parts[0]), port: port)
    }

    private static func limits(_ reader: inout MappingReader, defaults: ConnectionLimits) throws(ConfigurationError) -> ConnectionLimits {
        var limits = defaults
        limits.maxConnections = try reader.integer("max_connections", in: 1...1_000_000) ?? limits.maxConnections
        limits.handshakeTimeout = try reader.duration("handshake_timeout") ?? limits.handshakeTimeout
        limits.idleTimeout = try reader.duration("idle_timeout") ?? limits.idleTimeout
        limits.maxHeaderBytes = (try reader.integer("max_header_kb", in: 1...1024)).map { $0 << 10 } ?? limits.maxHeaderBytes
        limits.maxHeaderCount = try reader.integer("max_header_count", in: 1...10_000) ?? limits.maxHeaderCount
        limits.maxWebSocketMessageBytes =
            (try reader.integer("max_websocket_message_kb", in: 1...65_536)).map { $0 << 10 }
            ?? limits.maxWebSocketMessageBytes
        limits.maxUpstreamConnections = try reader.integer("max_upstream_connections", in: 1...100_000) ?? limits.maxUpstreamConnections
        try reader.finish()
        return limits
    }

    /// A route's `cors:` section: the origins (required) and what calls from them may use.
    private static func crossOrigin(_ reader: inout MappingReader) throws(ConfigurationError) -> CrossOriginPolicy {
        let originsLocation = reader.location(of: "origins")
        guard let listed = try reader.strings("origins"), !listed.isEmpty else {
            throw reader.missing("origins", hint: "the web origins whose pages may call the route, e.g. [https://dispatch.logistics.example]")
        }
        var origins = Set<String>()
        for text in listed {
            do throws(CrossOriginPolicy.InvalidOrigin) {
                origins.insert(try CrossOriginPolicy.origin(text))
            } catch {
                throw .invalidValue(originsLocation, path: reader.join("origins"), reason: error.description)
            }
        }
        var policy = CrossOriginPolicy(origins: origins)
        let methodsLocation = reader.location(of: "methods")
        if let methods = try reader.strings("methods") {
            if let bad = methods.first(where: { $0.isEmpty || !$0.allSatisfy { $0.isASCII && $0.isUppercase } }) {
                throw .invalidValue(methodsLocation, path: reader.join("methods"), reason: "'\(bad)' is not an HTTP method in upper case")
            }
            policy.methods = methods
        }
        policy.headers = (try reader.strings("headers")).map { Set($0.map { $0.lowercased() }) } ?? policy.headers
        policy.exposedHeaders = try reader.strings("expose") ?? policy.exposedHeaders
        policy.credentials = try reader.boolean("credentials") ?? policy.credentials
        policy.maxAge = try reader.duration("max_age") ?? policy.maxAge
        try reader.finish()
        return policy
    }

    private static func route(_ reader: inout MappingReader) throws(ConfigurationError) -> RouteSettings {
        guard let id = try reader.string("id") else {
            throw reader.missing("id", hint: "every route needs an id (the Cedar resource Route::\"<id>\")")
        }
        guard let hosts = try reader.strings("hosts") else { throw reader.missing("hosts", hint: "e.g. [shipments.logistics.internal]") }
        guard
            let upstream = try reader.parsed(
                "upstream", expected: "an http:// or https:// URL",
                { text -> URL in
                    guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, url.query == nil,
                        url.fragment == nil
                    else { throw ConfigValueError("expected an http:// or https:// URL without query or fragment") }
                    return url
                })
        else { throw reader.missing("upstream", hint: "e.g. http://127.0.0.1:9101") }
        var route = RouteSettings(id: id, hosts: hosts, pathPrefix: try reader.string("path") ?? "/", upstream: upstream)
        route.isPublic = try reader.boolean("public") ?? route.isPublic
        if let methods = try reader.strings("auth") {
            var accepted = Set<AuthMethod>()
            for method in methods {
                guard let value = AuthMethod(rawValue: method) else {
                    throw .invalidValue(
                        reader.location(of: "auth"), path: reader.join("auth"), reason: "'\(method)' is not one of mtls, token, session")
                }
                accepted.insert(value)
            }
            route.authMethods = accepted
        }
        route.requiresClientCertificate =
            try reader.boolean("require_client_certificate")
            ?? route.requiresClientCertificate
        route.timeout = try reader.duration("timeout") ?? route.timeout
        route.allowsWebSocket = try reader.boolean("websocket") ?? route.allowsWebSocket
        let lifetimeLocation = reader.location(of: "max_stream_lifetime")
        route.maxStreamLifetime = try reader.duration("max_stream_lifetime") ?? route.maxStreamLifetime
        guard route.maxStreamLifetime > .zero else {
            throw .invalidValue(lifetimeLocation, path: reader.join("max_stream_lifetime"), reason: "must be longer than 0s")
        }
        route.assertionBinding = try reader.choice("assertion", of: AssertionBinding.self) ?? route.assertionBinding
        if var cors = try reader.mapping("cors") { route.crossOrigin = try crossOrigin(&cors) }
        let protocolLocation = reader.location(of: "upstream_protocol")
        route.upstreamProtocol = try reader.choice("upstream_protocol", of: UpstreamProtocol.self) ?? route.upstreamProtocol
        switch (route.upstreamProtocol, upstream.scheme) {
        case (.h2, "http"):
            throw .invalidValue(
                protocolLocation, path: reader.join("upstream_protocol"),
                reason: "h2 is HTTP/2 over TLS and needs an https:// upstream; use h2c for http://")
        case (.h2c, "https"):
            throw .invalidValue(
                protocolLocation, path: reader.join("upstream_protocol"),
                reason: "h2c is HTTP/2 without TLS and needs an http:// upstream; use h2 for https://")
        default: break
        }
        route.maxBodyBytes = (try reader.integer("max_body_mb", in: 0...10_240)).map { $0 << 20 } ?? route.maxBodyBytes
        route.bodyPace.timeout = try reader.duration("body_timeout") ?? route.bodyPace.timeout
        route.bodyPace.minimumBytesPerSecond =
            try reader.integer("min_body_bytes_per_second", in: 0...1_000_000_000)
            ?? route.bodyPace.minimumBytesPerSecond
        route.passesAuthorization =
            try reader.boolean("pass_authorization")
            ?? route.passesAuthorization
        if var labels = try reader.mapping("labels") { route.labels = try labels.stringValues() }
        let (caFile, certificateFile, keyFile) = (
            try reader.string("upstream_ca"), try reader.string("upstream_certificate"),
            try reader.string("upstream_key")
        )
        if caFile != nil || certificateFile != nil || keyFile != nil {
            guard upstream.scheme == "https" else {
                throw .invalidValue(
                    reader.location(of: "upstream"), path: reader.join("upstream"),
                    reason: "upstream_ca, upstream_certificate and upstream_key need an https:// upstream")
            }
            do {
                route.upstreamTLS = try UpstreamTLS(caFile: caFile, certificateFile: certificateFile, keyFile: keyFile)
            } catch {
                throw .invalidValue(
                    reader.location(of: certificateFile != nil ? "upstream_certificate" : "upstream_ca"),
                    path: reader.join("upstream_tls"), reason: error.description)
            }
        }
        try reader.finish()
        return route
    }

    mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        typealias Env = ConfigurationEnvironment
        func value<T>(_ name: String, _ parse: (String) throws -> T) throws(ConfigurationError) -> T? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            do { return try parse(text) } catch { throw .invalidEnvironment(variable: name, reason: "\(error)") }
        }
        if let url = try value(Env.databaseURL, { try DatabaseURL($0) }) { database.url = url }
        if let listen = try value(Env.adminListen, { try ListenAddress($0) }) { admin.listen = listen }
        if let level = try value(Env.logLevel, { try Self.choice($0, LogSection.Level.self) }) { log.level = level }
        if let path = try value(Env.masterKeyFile, { $0 }) { keys.masterKeyFile = path }
        if let listen = try value(Env.identityListen, { try ListenAddress($0) }) { identity.listen = listen }
        if let format = try value(Env.logFormat, { try Self.choice($0, LogSection.Format.self) }) { log.format = format }
    }

    private static func choice<Value: RawRepresentable & CaseIterable>(_ text: String, _: Value.Type) throws -> Value
    where Value.RawValue == String {
        guard let value = Value(rawValue: text) else {
            throw ConfigValueError("'\(text)' is not one of \(Value.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    private static func syntaxError(_ error: YamlError, file: String) -> ConfigurationError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return .syntax(SourceLocation(file: file, line: mark.line, column: mark.column), problem)
        default:
            return .syntax(SourceLocation(file: file, line: 1, column: 1), "\(error)")
        }
    }
}

/// Argon2id cost presets (libsodium's): `interactive` (64 MiB, ~0.1 s) or `moderate` (256 MiB, ~0.7 s).
public enum PasswordCost: String, Sendable, CaseIterable {
    case interactive, moderate

    var policy: PasswordPolicy { self == .interactive ? .interactive : .moderate }
}

extension Duration {
    var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}

/// A `host:port` to listen on; `[::1]:9090` for IPv6.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(_ text: String) throws(ConfigValueError) {
        guard let colon = text.lastIndex(of: ":") else { throw ConfigValueError("expected host:port, got '\(text)'") }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ConfigValueError("the host of '\(text)' is empty") }
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigValueError("the port of '\(text)' is not a number from 0 to 65535")
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why a single configuration value (from the file or the environment) was refused.
public struct ConfigValueError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
