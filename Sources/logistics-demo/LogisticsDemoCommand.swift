import ArgumentParser
import Foundation
import Logging
import LogisticsDemo

/// Argument parsing only: `LogisticsDemo` builds the configuration and runs the services.
@main
struct LogisticsDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logistics-demo",
        abstract: "The demo upstreams (shipments, fleet, billing, ops-console) that trust only the Portcullis gateway's signed assertion.",
        discussion: """
            Every request must carry X-Portcullis-Assertion: an EdDSA JWT from the gateway, verified against the identity
            service's JWKS, addressed to the service's route id and minted for the request's method and path.

              logistics-demo --all --ports-file .portcullis/demo-ports.json
              logistics-demo --service shipments --listen 127.0.0.1:9101
            """)

    @Flag(help: "Run all four services (shipments, fleet, billing, ops-console).")
    var all = false

    @Option(help: "Run this one service: shipments, fleet, billing or ops-console.")
    var service: String?

    @Option(help: "host:port of the one --service (port 0: any free port).")
    var listen: String?

    @Option(help: "Listening host with --all.")
    var host = "127.0.0.1"

    @Option(help: "With --all: ports base, base+1, base+2, base+3 in the order above (default: free ports).")
    var basePort: Int?

    @Option(help: "Write {\"<service>\": <port>, ...} here once every listener is bound.")
    var portsFile: String?

    @Option(help: "The identity service's JWKS.")
    var jwksURL = "http://127.0.0.1:8081/.well-known/jwks.json"

    @Option(help: "Expected iss of assertions.")
    var issuer = "portcullis-gateway"

    @Option(help: "service=route-id: the gateway route id (assertion aud) of a service, if not its name. Repeatable.")
    var routeID: [String] = []

    @Option(help: "label=url: a link on the ops console. Repeatable.")
    var consoleLink: [String] = []

    @Option(help: "Seconds between key-set refetches caused by unknown key ids.")
    var keyRefreshInterval = 10

    @Option(help: "Seconds after which the cached key set is refetched.")
    var keyMaxAge = 300

    @Flag(help: "Stop when the process that started this one ends.")
    var exitWithParent = false

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        guard keyRefreshInterval >= 0, keyMaxAge > 0 else { throw ValidationError("--key-refresh-interval must be ≥ 0 and --key-max-age > 0") }
        let configuration: DemoConfiguration
        do {
            configuration = try DemoConfiguration.make(
                all: all, service: service, listen: listen, host: host, basePort: basePort, jwksURL: jwksURL, issuer: issuer,
                routeIDs: routeID, links: consoleLink, portsFile: portsFile, keyRefreshInterval: .seconds(keyRefreshInterval),
                keyMaxAge: .seconds(keyMaxAge))
        } catch {
            throw ValidationError(error.description)
        }
        var settings = configuration
        settings.exitWithParent = exitWithParent
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        try await DemoServer.run(settings, logger: Logger(label: "logistics-demo"))
    }
}
