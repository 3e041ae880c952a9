import AccessModel
import Foundation
import NIOSSL

/// One route: which requests it takes, where they go, and how callers must authenticate.
/// Every field is checked when the table is built; a table with one bad route is refused whole.
public struct RouteSettings: Sendable {
    public var id: String
    public var hosts: [String]
    /// Canonical path prefix, matched on segment boundaries.
    public var pathPrefix: String
    /// `http://` or `https://` base URL of the upstream; the request path is appended to its path.
    public var upstream: URL { didSet { endpoint = UpstreamEndpoint(upstream) } }
    /// `upstream` taken apart once, for the forwarder; nil when it is not a usable URL.
    public private(set) var endpoint: UpstreamEndpoint?
    /// Anonymous callers may reach a public route (policy still decides); on any other route
    /// they are asked to sign in before policy is consulted.
    public var isPublic: Bool
    /// Which credentials this route accepts.
    public var authMethods: Set<AuthMethod>
    /// Refuse requests that did not arrive on a connection with a verified client certificate.
    public var requiresClientCertificate: Bool
    /// Time allowed for the upstream's response head.
    public var timeout: Duration
    public var allowsWebSocket: Bool
    /// Tags of the Cedar resource `Route::"<id>"` (`resource.getTag("team")`).
    public var labels: [String: String]
    public var maxBodyBytes: Int
    /// Deadline and minimum rate of request bodies the gateway reads for this route.
    public var bodyPace: BodyPace = .standard
    /// Forward the caller's `Authorization` header. Off by default, so a bearer token valid on
    /// every route never reaches upstreams; on only for upstreams that verify the token
    /// themselves (the identity service's own API).
    public var passesAuthorization: Bool = false
    /// TLS towards an `https://` upstream; nil: system trust store, no client certificate.
    public var upstreamTLS: UpstreamTLS?

    public init(id: String, hosts: [String], pathPrefix: String, upstream: URL, isPublic: Bool = false,
                authMethods: Set<AuthMethod> = Set(AuthMethod.allCases), requiresClientCertificate: Bool = false,
                timeout: Duration = .seconds(30), allowsWebSocket: Bool = false, labels: [String: String] = [:],
                maxBodyBytes: Int = 10 << 20) {
        self.id = id
        self.hosts = hosts
        self.pathPrefix = pathPrefix
        self.upstream = upstream
        endpoint = UpstreamEndpoint(upstream)
        self.isPublic = isPublic
        self.authMethods = authMethods
        self.requiresClientCertificate = requiresClientCertificate
        self.timeout = timeout
        self.allowsWebSocket = allowsWebSocket
        self.labels = labels
        self.maxBodyBytes = maxBodyBytes
    }
}

/// The gateway's listener and session settings (routes are separate: they reload on their own).
public struct GatewaySettings: Sendable {
    public var host: String = "0.0.0.0"
    public var port: Int = 8443
    /// PEM chain (leaf first) and key of the gateway's server certificate; reloaded on change.
    public var certificateFile: String = "certs/gateway.crt"
    public var keyFile: String = "certs/gateway.key"
    /// PEM bundle of the CAs whose client certificates are accepted (the internal CA). Without it
    /// no client certificate is requested and mTLS routes refuse every request.
    public var clientCAFile: String?
    /// A plain-HTTP listener that only redirects to HTTPS (`host:port`); nil: none.
    public var redirectListen: (host: String, port: Int)?
    /// Connection-level limits, the defence against slow and flooding clients.
    public var limits = ConnectionLimits()
    /// Issuer and audience the gateway accepts on access tokens.
    public var tokenIssuers: [String] = ["portcullis"]
    public var tokenAudiences: [String] = ["portcullis"]
    /// A browser session ends after this long without a request (the absolute limit is the identity session's).
    public var sessionIdleTimeout: TimeInterval = 1800
    /// Lifetime of the `X-Portcullis-Assertion` JWT given to upstreams.
    public var assertionLifetime: TimeInterval = 60
    /// Issuer written into assertions (upstreams check it).
    public var assertionIssuer: String = "portcullis-gateway"

    public init() {}
}

/// Limits applied to every client connection before any request is seen.
public struct ConnectionLimits: Sendable {
    /// Open client connections; a connection beyond it is closed as soon as it is accepted.
    public var maxConnections = 10_000
    /// Time from accept to a finished TLS handshake.
    public var handshakeTimeout: Duration = .seconds(10)
    /// HTTP/1.1: time from accept, or from the end of the last response, to a complete request
    /// head. It bounds both an idle keep-alive connection and a head sent a byte at a time
    /// (slowloris). HTTP/2: time a connection may stay without open streams.
    public var idleTimeout: Duration = .seconds(30)
    /// Size of the request head's header fields, in bytes (431 or a reset beyond it).
    public var maxHeaderBytes = 32 * 1024
    /// Number of header fields in one request.
    public var maxHeaderCount = 100
    /// Largest WebSocket message relayed in either direction.
    public var maxWebSocketMessageBytes = 1 << 20
    /// Open connections to one upstream (host, port, TLS settings); a request that would need
    /// one more while all are busy is answered 503 at once instead of opening it.
    public var maxUpstreamConnections = 1024

    public init() {}
}

extension RouteSettings {
    /// The routing table for these routes; any invalid route or ambiguity refuses the whole set.
    public static func table(_ routes: [RouteSettings]) throws(RouteTableError) -> RouteTable<RouteSettings> {
        var entries: [Route<RouteSettings>] = []
        for route in routes {
            var hosts: [HostPattern] = []
            for host in route.hosts { hosts.append(try HostPattern(host)) }
            entries.append(Route(id: route.id, hosts: hosts, pathPrefix: route.pathPrefix, payload: route))
        }
        return try RouteTable(entries)
    }
}

/// How the gateway checks an `https://` upstream and, optionally, proves its own identity to
/// it with a client certificate (its SPIFFE workload certificate, kept fresh by
/// `portcullis cert renew --watch`). Files are read when the route table is built, so an
/// unreadable or mismatched file refuses the table instead of failing requests; the reloader
/// watches them, so a renewed certificate is used for new upstream connections.
public struct UpstreamTLS: Sendable {
    /// PEM bundle the upstream's certificate must chain to; nil: the system's trust store.
    public let caFile: String?
    /// PEM certificate chain and key presented to the upstream; nil: none.
    public let certificateFile: String?
    public let keyFile: String?
    public let configuration: TLSConfiguration
    /// `configuration` made ready for connections: built here, off the event loops, once per
    /// route table. Upstream connections are pooled per context, so a table rebuilt after these
    /// files changed opens new connections with the new files.
    public let context: NIOSSLContext

    public init(caFile: String?, certificateFile: String?, keyFile: String?) throws(UpstreamTLSError) {
        guard (certificateFile == nil) == (keyFile == nil) else { throw .incompleteClientCredentials }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            configuration.trustRoots = .certificates(try Self.read(caFile) { try NIOSSLCertificate.fromPEMFile($0) })
        }
        if let certificateFile, let keyFile {
            let chain = try Self.read(certificateFile) { try NIOSSLCertificate.fromPEMFile($0) }
            let key = try Self.read(keyFile) { try NIOSSLPrivateKey(file: $0, format: .pem) }
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        }
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.configuration = configuration
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw .unusable(reason: "\(error)")
        }
    }

    /// The files this configuration was read from (for change detection).
    public var files: [String] { [caFile, certificateFile, keyFile].compactMap { $0 } }

    private static func read<Value>(_ file: String, _ load: (String) throws -> Value) throws(UpstreamTLSError) -> Value {
        do {
            return try load(file)
        } catch {
            throw .unreadable(file: file, reason: "\(error)")
        }
    }
}

public enum UpstreamTLSError: Error, CustomStringConvertible, Equatable {
    case incompleteClientCredentials
    case unreadable(file: String, reason: String)
    /// The files were read but do not make a TLS client (e.g. a key that does not match the certificate).
    case unusable(reason: String)

    public var description: String {
        switch self {
        case .incompleteClientCredentials: "upstream_certificate and upstream_key go together"
        case let .unreadable(file, reason): "cannot read \(file): \(reason)"
        case let .unusable(reason): "the upstream TLS settings cannot be used: \(reason)"
        }
    }
}
