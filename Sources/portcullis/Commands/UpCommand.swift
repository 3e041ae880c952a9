import ArgumentParser
import Composition
import Foundation
import Logging

/// `portcullis up`: the whole logistics deployment on this machine (see `LocalDeployment`).
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run the logistics demo: PostgreSQL, identity service, gateway and demo services, until Ctrl-C.",
        discussion: "State (database, CA, keys, configuration) lives in --state and is reused on the next run.")

    @Option(help: "State directory.") var state = ".portcullis"
    @Option(help: "Use this PostgreSQL server instead of a private cluster in the state directory (default: $PORTCULLIS_DATABASE_URL).")
    var databaseURL: String?
    @Option(help: "HTTPS port of the gateway.") var gatewayPort = 8443
    @Option(help: "Port of the identity service (loopback).") var identityPort = 8081
    @Option(help: "Port of the operations listener (loopback).") var adminPort = 9090
    @Option(help: "The demo organisation.") var seed = "deploy/demo/seed.yaml"
    @Option(help: "Policy directory.") var policies = "policies"
    @Option(help: "The logistics-demo executable (default: next to this one).") var demoExecutable: String?
    @Option(help: "Log format: text or json.") var logFormat = "text"
    @Flag(help: "Also run the company's identity provider of the seed (identity_provider) and sign in with it.")
    var identityProvider = false
    @Option(help: "Port of the identity provider (loopback).") var identityProviderPort = 8082
    @Option(
        help: "Python with grpcio (and django-oauth-toolkit for --identity-provider) for the demo's gRPC fleet service (default: $PORTCULLIS_PYTHON)."
    )
    var python: String?

    func run() async throws {
        guard let format = PortcullisConfiguration.LogSection.Format(rawValue: logFormat) else {
            throw ValidationError("--log-format must be text or json")
        }
        LoggingSetup.bootstrap(format: format, level: .notice)
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var options = LocalDeployment.Options(
            stateDirectory: URL(fileURLWithPath: state), seedFile: seed, policiesDirectory: policies,
            demoExecutable: demoExecutable.map { URL(fileURLWithPath: $0) }
                ?? executable.deletingLastPathComponent().appendingPathComponent("logistics-demo"))
        options.databaseURL = databaseURL ?? ProcessInfo.processInfo.environment["PORTCULLIS_DATABASE_URL"]
        options.gatewayPort = gatewayPort
        options.identityPort = identityPort
        options.adminPort = adminPort
        let python = self.python ?? ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"]
        let workingDirectory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        if let python, python.hasPrefix("/") {
            let script = URL(fileURLWithPath: "deploy/demo/fleet_service.py", relativeTo: workingDirectory)
            options.fleetPositions = (python, script.standardizedFileURL.path)
        }
        if identityProvider {
            guard let python, python.hasPrefix("/") else {
                throw ValidationError(
                    "--identity-provider needs --python or $PORTCULLIS_PYTHON: an absolute path to a Python with django-oauth-toolkit")
            }
            let script = URL(fileURLWithPath: "deploy/demo/oidc_provider.py", relativeTo: workingDirectory)
            options.identityProvider = (identityProviderPort, python, script.standardizedFileURL.path)
        }
        do {
            try await LocalDeployment(options: options, logger: Logger(label: "portcullis")).run()
        } catch {
            FileHandle.standardError.write(Data("portcullis up: \(error)\n".utf8))
            if case LocalDeploymentError.interrupted = error { throw ExitCode(130) }
            throw ExitCode.failure
        }
    }
}
