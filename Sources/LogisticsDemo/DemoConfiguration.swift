import Foundation

/// The four demo upstreams of the logistics organisation.
public enum DemoService: String, CaseIterable, Sendable {
    case shipments
    case fleet
    case billing
    case opsConsole = "ops-console"
}

/// What `logistics-demo` runs: which services on which addresses, and how they trust the gateway.
public struct DemoConfiguration: Sendable {
    public struct Listener: Sendable, Equatable {
        public var service: DemoService
        public var host: String
        /// 0: any free port (reported in the log and the ports file).
        public var port: Int
    }

    public var listeners: [Listener]
    public var keySet: GatewayKeySet.Settings
    /// `iss` of the gateway's assertions.
    public var issuer = "portcullis-gateway"
    /// The gateway route id of each service (the assertion's `aud`); the service name by default.
    public var routeIDs: [DemoService: String] = [:]
    /// Where to write `{"<service>": <port>, ...}` once every listener is bound.
    public var portsFile: String?
    /// Links shown on the ops console.
    public var consoleLinks: [ConsoleLink] = []
    /// Stop when the process that started us is gone (`portcullis up` killed with SIGKILL
    /// cannot stop us itself, and we must not keep its ports).
    public var exitWithParent = false

    public func routeID(_ service: DemoService) -> String { routeIDs[service] ?? service.rawValue }

    /// Builds a configuration from command-line values, refusing anything ambiguous.
    ///
    /// - Parameters:
    ///   - all: run the four services, on `host` and ports `basePort`, `basePort+1`, … in the
    ///     order shipments, fleet, billing, ops-console (all on free ports without `basePort`).
    ///   - service, listen: run one service on `host:port` (instead of `all`).
    ///   - routeIDs: `service=route-id` overrides of the expected audience.
    ///   - links: `label=url` links for the ops console (http or https URLs).
    public static func make(
        all: Bool, service: String?, listen: String?, host: String, basePort: Int?, jwksURL: String, issuer: String,
        routeIDs: [String], links: [String], portsFile: String?, keyRefreshInterval: Duration,
        keyMaxAge: Duration
    ) throws(DemoConfigurationError) -> DemoConfiguration {
        var listeners: [Listener]
        switch (all, service) {
        case (true, nil):
            guard listen == nil else { throw .conflictingOptions("--listen names one service's address; with --all use --host and --base-port") }
            if let basePort, !(1...65_532).contains(basePort) { throw .invalidPort(String(basePort)) }
            listeners = DemoService.allCases.enumerated().map { index, service in
                Listener(service: service, host: host, port: basePort.map { $0 + index } ?? 0)
            }
        case let (false, name?):
            guard let service = DemoService(rawValue: name) else { throw .unknownService(name) }
            guard basePort == nil else { throw .conflictingOptions("--base-port applies to --all; use --listen host:port") }
            guard let listen else { throw .conflictingOptions("--service needs --listen host:port") }
            let (listenHost, port) = try parseAddress(listen)
            listeners = [Listener(service: service, host: listenHost, port: port)]
        case (true, _?):
            throw .conflictingOptions("give either --all or --service, not both")
        case (false, nil):
            throw .conflictingOptions("give --all or --service NAME --listen host:port")
        }
        guard let url = URL(string: jwksURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
            throw .invalidURL(jwksURL)
        }
        var configuration = DemoConfiguration(
            listeners: listeners,
            keySet: GatewayKeySet.Settings(url: url, unknownKeyRefreshInterval: keyRefreshInterval, maxAge: keyMaxAge))
        configuration.issuer = issuer
        configuration.portsFile = portsFile
        for pair in routeIDs {
            let (name, id) = try split(pair, option: "--route-id")
            guard let service = DemoService(rawValue: name) else { throw .unknownService(name) }
            guard configuration.routeIDs[service] == nil else { throw .conflictingOptions("--route-id \(name) given twice") }
            configuration.routeIDs[service] = id
        }
        for pair in links {
            let (label, target) = try split(pair, option: "--console-link")
            guard let link = URL(string: target), ["http", "https"].contains(link.scheme?.lowercased() ?? "") else { throw .invalidURL(target) }
            configuration.consoleLinks.append(ConsoleLink(label: label, url: target))
        }
        return configuration
    }

    /// `host:port` or `[v6]:port`.
    static func parseAddress(_ text: String) throws(DemoConfigurationError) -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw .invalidAddress(text)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: { $0 == "/" || $0.isWhitespace }) else { throw .invalidAddress(text) }
        return (host, port)
    }

    private static func split(_ pair: String, option: String) throws(DemoConfigurationError) -> (String, String) {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex, pair.index(after: equals) != pair.endIndex else {
            throw .malformedPair(option: option, value: pair)
        }
        return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
    }
}

/// Why the command line was refused (exit status 2, nothing started).
public enum DemoConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case conflictingOptions(String)
    case unknownService(String)
    case invalidAddress(String)
    case invalidPort(String)
    case invalidURL(String)
    case malformedPair(option: String, value: String)

    public var description: String {
        switch self {
        case let .conflictingOptions(message): message
        case let .unknownService(name):
            "unknown service '\(name)' (expected one of: \(DemoService.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .invalidAddress(text): "'\(text)' is not host:port (port 0…65535)"
        case let .invalidPort(text): "'\(text)' is not a base port (1…65532: four consecutive ports must fit)"
        case let .invalidURL(text): "'\(text)' is not an http or https URL"
        case let .malformedPair(option, value): "\(option) expects name=value, got '\(value)'"
        }
    }
}
