import Foundation
import NIOSSL

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
    /// The same, offering only `h2` by ALPN, for routes with `upstream_protocol: h2`.
    public let http2Context: NIOSSLContext

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
            http2Context = try NIOSSLContext(configuration: Self.offeringHTTP2(configuration))
        } catch {
            throw .unusable(reason: "\(error)")
        }
    }

    /// `configuration` that offers only HTTP/2 by ALPN: an upstream that cannot speak it fails
    /// the handshake instead of being sent HTTP/2 frames it would misread.
    static func offeringHTTP2(_ configuration: TLSConfiguration) -> TLSConfiguration {
        var configuration = configuration
        configuration.applicationProtocols = ["h2"]
        return configuration
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
