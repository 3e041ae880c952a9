import ChildProcesses
import Crypto
import Foundation
import Logging
import PKI
import Synchronization
import UnixSignals
import X509

/// `portcullis up`: the whole logistics deployment on one machine, from a state directory
/// (`.portcullis/`) created on the first run and reused afterwards.
///
/// It starts (or connects to) PostgreSQL, creates the master key, the internal CA and the
/// signing keys once, applies migrations and the demo organisation, issues the gateway's server
/// certificate and the demo services' client certificates, starts the `logistics-demo`
/// upstreams, and runs `portcullis serve` (identity service and gateway) until SIGINT or
/// SIGTERM, then stops everything it started.
public struct LocalDeployment: Sendable {
    public struct Options: Sendable {
        public var stateDirectory: URL
        /// Use this server instead of a private cluster in the state directory.
        public var databaseURL: String?
        public var gatewayPort = 8443
        public var identityPort = 8081
        public var adminPort = 9090
        public var seedFile: String
        public var policiesDirectory: String
        /// The `logistics-demo` executable (by default next to this one).
        public var demoExecutable: URL
        /// Also run the seed's identity provider on this port, with this Python and script.
        public var identityProvider: (port: Int, python: String, script: String)?
        /// Run the gRPC fleet service (`deploy/demo/fleet_service.py`) with this Python.
        public var fleetPositions: (python: String, script: String)?

        public init(stateDirectory: URL, seedFile: String, policiesDirectory: String, demoExecutable: URL) {
            self.stateDirectory = stateDirectory
            self.seedFile = seedFile
            self.policiesDirectory = policiesDirectory
            self.demoExecutable = demoExecutable
        }
    }

    public static let trustDomain = "logistics.internal"
    /// Sign-in, single sign-on and the admin console: a host of its own, no upstream behind it.
    static let signInHost = "auth.localhost"
    /// The routed demo hosts: all under `.localhost`, which resolves to loopback by itself.
    static let demoHosts = [
        "shipments": "shipments.localhost", "fleet": "fleet.localhost", "billing": "billing.localhost",
        "ops-console": "ops.localhost",
    ]

    let options: Options
    let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Runs until SIGINT or SIGTERM. A signal while serving shuts the services down gracefully;
    /// a signal before that (initialising the database, migrating, …) stops the work at once.
    /// Either way every program started here, PostgreSQL included, is stopped before this returns.
    public func run() async throws {
        TerminationSignals.unblock()
        let serving = ServingFlag()
        // Trapped before any work starts: a signal that came before the handler was in place
        // would be lost where the parent left SIGINT ignored (a test runner whose own services
        // trapped it), and PostgreSQL would be left running.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.deploy(serving: serving) }
            group.addTask {
                for await signal in signals where !serving.isSet {
                    throw LocalDeploymentError.interrupted(signal: "\(signal)")
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func deploy(serving: ServingFlag) async throws {
        let state = options.stateDirectory
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let seed = try DemoSeed.load(path: options.seedFile)
        for (port, option) in [
            (options.gatewayPort, "--gateway-port"), (options.identityPort, "--identity-port"), (options.adminPort, "--admin-port"),
        ] + (options.identityProvider.map { [($0.port, "--identity-provider-port")] } ?? [])
        where !LocalPorts.isFree(port) {
            throw LocalDeploymentError.portTaken(port: port, option: option)
        }
        if let databaseURL = options.databaseURL { return try await deploy(databaseURL: databaseURL, seed: seed, serving: serving) }
        let postgres = LocalPostgres(directory: state.appendingPathComponent("pg"), progress: progress)
        do {
            try await deploy(databaseURL: try await postgres.start(maxConnections: 200), seed: seed, serving: serving)
        } catch {
            // Stopped even when we were interrupted: cancellation must not leave the server behind.
            try? await Task { try await postgres.stop() }.value
            throw error
        }
        try await Task { try await postgres.stop() }.value
    }

    private func deploy(databaseURL: String, seed: DemoSeed, serving: ServingFlag) async throws {
        let state = options.stateDirectory
        let masterKeyFile = state.appendingPathComponent("master.key")
        if !FileManager.default.fileExists(atPath: masterKeyFile.path) {
            let key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            try createOwnerOnlyFile(atPath: masterKeyFile.path, contents: key)
        }
        let certs = state.appendingPathComponent("certs")
        let authority = try certificateAuthority(in: certs)
        try issueCredentials(authority, in: certs)

        // The demo upstreams first: they learn the identity service's keys when it is up.
        progress("starting the demo services (log: \(state.path)/logistics-demo.log)")
        let demoPortsFile = state.appendingPathComponent("demo-ports.json")
        try? FileManager.default.removeItem(at: demoPortsFile)
        let demoLog = try CapturedOutput(path: state.appendingPathComponent("logistics-demo.log").path)
        try await demoUpstreams(portsFile: demoPortsFile).supervise(output: demoLog) {
            let demoPorts = try await waitForPorts(demoPortsFile)
            if let fleet = options.fleetPositions {
                progress("starting the gRPC fleet service (log: \(state.path)/fleet-positions.log)")
                let service = DemoFleetPositions(
                    python: fleet.python, script: fleet.script, portFile: state.appendingPathComponent("fleet-positions.port"),
                    identityPort: options.identityPort)
                let log = try CapturedOutput(path: state.appendingPathComponent("fleet-positions.log").path)
                try await service.run(output: log) { port in
                    try await serveWithProvider(
                        databaseURL: databaseURL, masterKeyFile: masterKeyFile,
                        demoPorts: demoPorts.merging([DemoFleetPositions.routeID: port]) { $1 }, seed: seed, serving: serving)
                }
            } else {
                progress("the gRPC fleet service needs --python (scripts/demo sets it up): not started")
                try await serveWithProvider(
                    databaseURL: databaseURL, masterKeyFile: masterKeyFile, demoPorts: demoPorts, seed: seed, serving: serving)
            }
        }
        progress("stopped the identity service, the gateway and the demo services")
    }

    /// Serves, with the seed's identity provider running beside when it was asked for.
    private func serveWithProvider(
        databaseURL: String, masterKeyFile: URL, demoPorts: [String: Int], seed: DemoSeed, serving: ServingFlag
    ) async throws {
        let state = options.stateDirectory
        guard let provider = try identityProvider(seed: seed) else {
            return try await serve(databaseURL: databaseURL, masterKeyFile: masterKeyFile, demoPorts: demoPorts, seed: seed, serving: serving)
        }
        progress("starting the identity provider on \(provider.issuer) (log: \(state.path)/identity-provider.log)")
        let providerLog = try CapturedOutput(path: state.appendingPathComponent("identity-provider.log").path)
        try await provider.run(output: providerLog) {
            try await serve(
                databaseURL: databaseURL, masterKeyFile: masterKeyFile, demoPorts: demoPorts, seed: seed, serving: serving,
                provider: provider)
        }
    }

    /// The seed's identity provider when `--identity-provider` asked for it.
    private func identityProvider(seed: DemoSeed) throws -> DemoIdentityProvider? {
        guard let options = options.identityProvider else { return nil }
        guard let provider = seed.identityProvider else {
            throw LocalDeploymentError.identityProvider("\(self.options.seedFile) has no identity_provider section")
        }
        return DemoIdentityProvider(
            seed: provider, port: options.port, python: options.python, script: options.script,
            directory: self.options.stateDirectory.appendingPathComponent("identity-provider"), gatewayPort: self.options.gatewayPort)
    }

    /// Migrates, applies the seed and the policies, and serves until a signal.
    private func serve(
        databaseURL: String, masterKeyFile: URL, demoPorts: [String: Int], seed: DemoSeed, serving: ServingFlag,
        provider: DemoIdentityProvider? = nil
    ) async throws {
        let state = options.stateDirectory
        let certs = state.appendingPathComponent("certs")
        let configurationFile = state.appendingPathComponent("portcullis.yaml")
        try configurationText(databaseURL: databaseURL, masterKeyFile: masterKeyFile, demoPorts: demoPorts, provider: provider)
            .write(to: configurationFile, atomically: true, encoding: .utf8)
        let configuration = try PortcullisConfiguration.load(path: configurationFile.path)

        progress("migrating the database")
        _ = try await MigrationRuntime.run(configuration: configuration, logger: logger)
        progress("creating the demo company (\(options.seedFile))")
        let created = try await IdentityAdministration.run(configuration: configuration, logger: logger) { admin in
            try await seed.apply(with: admin)
        }
        if !created.isEmpty { progress("created \(created.joined(separator: ", "))") }
        // The gateway enforces the policy store's active version (so the admin console can edit,
        // test and push it); the first run stores the policies directory as version 1.
        try await PolicyAdministration.run(configuration: configuration, logger: logger) { policies in
            guard try await policies.versions.active() == nil else { return }
            let version = try await policies.push(
                directory: options.policiesDirectory, message: "initial policies from \(options.policiesDirectory)",
                author: "portcullis up")
            progress("stored \(options.policiesDirectory) as policy version \(version.number)")
        }
        progress("starting the identity service and the gateway")
        serving.set()
        // Written unbuffered: whoever started us (a terminal, a test, a pipe) sees it now.
        FileHandle.standardOutput.write(Data(walkthrough(seed: seed, certs: certs, provider: provider).utf8))
        try await ServeRuntime.run(configuration: configuration, logger: logger)
    }

    /// One line on standard error for a person watching: what is happening now.
    private func progress(_ message: String) {
        FileHandle.standardError.write(Data("portcullis up: \(message)\n".utf8))
    }

    /// The CA of the state directory, created on the first run.
    private func certificateAuthority(in certs: URL) throws -> CertificateAuthority {
        let files = CAFiles(directory: certs)
        if let existing = try? files.load() { return existing }
        let (authority, rootKey) = try CertificateAuthority.create(trustDomain: Self.trustDomain)
        try files.save(authority, rootKey: rootKey, force: false)
        return authority
    }

    /// Fresh credentials on every start: the gateway's server certificate for every demo host,
    /// and the demo services' client certificates (issued offline, so not renewable: a real service
    /// gets its first certificate from the Workload API with a join token, then renews).
    private func issueCredentials(_ authority: CertificateAuthority, in certs: URL) throws {
        let gatewayKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let gateway = try authority.issue(
            spiffeID: try SPIFFEID("spiffe://\(Self.trustDomain)/gateway"), publicKey: gatewayKey.publicKey,
            dnsNames: ["localhost", Self.signInHost, DemoFleetPositions.host] + Self.demoHosts.values.sorted(), server: true,
            lifetime: 86_400)
        try CredentialFiles.write(prefix: certs.appendingPathComponent("gateway").path, chain: [gateway, authority.intermediate], key: gatewayKey)
        for service in ["billing", "fleet-sync"] {
            let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
            let certificate = try authority.issue(
                spiffeID: try SPIFFEID("spiffe://\(Self.trustDomain)/\(service)"), publicKey: key.publicKey,
                dnsNames: [], server: false, lifetime: 86_400)
            try CredentialFiles.write(prefix: certs.appendingPathComponent(service).path, chain: [certificate, authority.intermediate], key: key)
        }
    }

    /// The four demo services in one `logistics-demo`, which leaves if we are killed.
    private func demoUpstreams(portsFile: URL) -> ChildCommand {
        ChildCommand(
            options.demoExecutable.path,
            [
                "--all", "--ports-file", portsFile.path, "--log-level", "warning", "--exit-with-parent",
                "--jwks-url", "http://127.0.0.1:\(options.identityPort)/.well-known/jwks.json",
                "--console-link", "Shipments=https://shipments.localhost:\(options.gatewayPort)/v1/shipments",
                "--console-link", "Fleet=https://fleet.localhost:\(options.gatewayPort)/v1/vehicles",
                "--console-link", "Billing=https://billing.localhost:\(options.gatewayPort)/v1/invoices",
            ])
    }

    /// The ports the demo services bound; if the program ends first, supervision cancels this wait.
    private func waitForPorts(_ file: URL) async throws -> [String: Int] {
        for _ in 0..<600 {
            if let data = try? Data(contentsOf: file), let ports = try? JSONDecoder().decode([String: Int].self, from: data) { return ports }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw LocalDeploymentError.demoUpstreams("logistics-demo did not report its ports within 30 s")
    }

    func configurationText(databaseURL: String, masterKeyFile: URL, demoPorts: [String: Int], provider: DemoIdentityProvider?) throws -> String {
        let state = options.stateDirectory.path
        var routes = """
                - id: identity
                  hosts: [localhost]
                  path: /
                  upstream: http://127.0.0.1:\(options.identityPort)
                  public: true
                  pass_authorization: true

            """
        for (service, host) in Self.demoHosts.sorted(by: { $0.key < $1.key }) {
            guard let port = demoPorts[service] else { throw LocalDeploymentError.demoUpstreams("no port reported for \(service)") }
            routes += """
                    - id: \(service)
                      hosts: [\(host)]
                      path: /
                      upstream: http://127.0.0.1:\(port)
                      labels: {team: \(service == "billing" ? "finance" : service == "ops-console" ? "ops" : "dispatch")}

                """
        }
        if let port = demoPorts[DemoFleetPositions.routeID] { routes += DemoFleetPositions.route(port: port) }
        return """
            # Written by `portcullis up` on every start; edit deploy/demo/seed.yaml instead, and ship policies with
            # `portcullis policy push` or the admin console.
            database:
              url: "\(databaseURL)"
            admin:
              listen: 127.0.0.1:\(options.adminPort)
            keys:
              master_key_file: \(masterKeyFile.path)
            identity:
              listen: 127.0.0.1:\(options.identityPort)
              ca_directory: \(state)/certs
              # The gateway runs on this host: believe its X-Forwarded-For for login throttling.
              trusted_proxies: [127.0.0.1]
            audit:
              spool_directory: \(state)/audit-spool
            policies:
              source: database
              directory: \(options.policiesDirectory)
            gateway:
              listen: 127.0.0.1:\(options.gatewayPort)
              certificate: \(state)/certs/gateway.crt
              key: \(state)/certs/gateway.key
              client_ca: \(state)/certs/ca-bundle.crt
              trust_domain: \(Self.trustDomain)
              # One sign-in for every tool: route hosts send browsers here and get a one-time code back.
              sign_in_host: \(Self.signInHost)
              routes:
            \(routes)
            """ + (provider?.configurationSection ?? "")
    }

    func walkthrough(seed: DemoSeed, certs: URL, provider: DemoIdentityProvider?) -> String {
        let port = options.gatewayPort
        let accounts = seed.users.map { user in
            "    \(user.login.padding(toLength: 8, withPad: " ", startingAt: 0)) \(user.password.padding(toLength: 22, withPad: " ", startingAt: 0)) "
                + (user.roles + user.groups).joined(separator: ", ") + (user.totpSecret.map { "; TOTP secret \($0)" } ?? "")
        }.joined(separator: "\n")
        return """

            Portcullis is up. Everything below goes through the gateway on port \(port); its certificate comes from
            the internal CA in \(certs.path) (curl: --cacert \(certs.path)/ca-bundle.crt).

              sign in         https://\(Self.signInHost):\(port)/  (once, for every tool below)
              identity API    https://localhost:\(port)/v1/login
              shipments       https://shipments.localhost:\(port)/v1/shipments
              fleet           https://fleet.localhost:\(port)/v1/vehicles
              billing         https://billing.localhost:\(port)/v1/invoices
            \(fleetPositionsLine)
              ops console     https://ops.localhost:\(port)/
              admin console   https://\(Self.signInHost):\(port)/.portcullis/admin/  (security-admin with MFA: codes from oathtool --totp -b <secret>)
              operations      http://127.0.0.1:\(options.adminPort)/readyz  /metrics

            Demo accounts (local demo only):
            \(accounts)

            \(providerPeople(provider))The walkthrough is docs/quickstart.md. Ctrl-C stops everything; the state stays in \(options.stateDirectory.path).

            """
    }
}

extension LocalDeployment {
    /// The walkthrough's line on the gRPC fleet service, when it runs.
    fileprivate var fleetPositionsLine: String {
        guard options.fleetPositions != nil else { return "" }
        return "  fleet (gRPC)    \(DemoFleetPositions.host):\(options.gatewayPort)  logistics.fleet.v1.Positions (deploy/demo/fleet_client.py)"
    }

    /// The walkthrough's lines on the identity provider's people, when it runs.
    fileprivate func providerPeople(_ provider: DemoIdentityProvider?) -> String {
        guard let provider else { return "" }
        let people = provider.seed.people.map { person in
            "    \(person.username.padding(toLength: 8, withPad: " ", startingAt: 0)) "
                + "\(person.password.padding(toLength: 24, withPad: " ", startingAt: 0)) provider groups: \(person.groups.joined(separator: ", "))"
        }.joined(separator: "\n")
        return """
            People at the company's identity provider (\(provider.issuer); the "\(provider.seed.name)" button on the sign-in page):
            \(people)


            """
    }
}

/// Whether `portcullis serve` has taken over signal handling (and with it graceful shutdown).
private final class ServingFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

public enum LocalDeploymentError: Error, CustomStringConvertible {
    case demoUpstreams(String)
    case cannotCreate(path: String)
    case portTaken(port: Int, option: String)
    case identityProvider(String)
    /// SIGINT or SIGTERM before the services were up: everything started so far was stopped.
    case interrupted(signal: String)

    public var description: String {
        switch self {
        case let .demoUpstreams(reason): "demo upstreams: \(reason)"
        case let .cannotCreate(path): "cannot create \(path)"
        case let .portTaken(port, option): "port \(port) on 127.0.0.1 is in use (another `portcullis up`?); choose another with \(option)"
        case let .identityProvider(reason): "identity provider: \(reason)"
        case let .interrupted(signal): "interrupted by \(signal); everything started was stopped"
        }
    }
}

/// Creates (or replaces) a file of the local deployment readable by its owner only: keys,
/// passwords and logs that may hold them. Going on without it would fail later, further from the cause.
func createOwnerOnlyFile(atPath path: String, contents: Data?) throws(LocalDeploymentError) {
    guard FileManager.default.createFile(atPath: path, contents: contents, attributes: [.posixPermissions: 0o600]) else {
        throw .cannotCreate(path: path)
    }
}
