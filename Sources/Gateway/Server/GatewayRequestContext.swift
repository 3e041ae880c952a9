import AccessModel
import Hummingbird
import NIOCore
import NIOSSL
import Synchronization
import X509

/// Per-request context: Hummingbird's storage plus the channel, which identifies the connection
/// whose `TLSFacts` apply.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    var clientAddress: String { (channel.parent ?? channel).remoteAddress?.ipAddress ?? channel.remoteAddress?.ipAddress ?? "unknown" }
}

/// What the TLS layer of a connection established: the verified client certificate, if one was
/// presented (already described for authentication and policy), the protocol version, and
/// whether ALPN chose HTTP/2.
struct TLSFacts: Sendable {
    let certificate: ClientCertificate?
    let version: String
    let http2: Bool

    /// A connection the gateway holds no facts for (it closed while its request was running):
    /// no certificate, so nothing that needs one is admitted.
    static let unknown = TLSFacts(certificate: nil, version: "none", http2: true)

    /// Reads the facts from `channel`'s TLS handler; on its event loop, after the handshake.
    static func read(fromHandshakenChannel channel: any Channel, http2: Bool) -> TLSFacts {
        guard let handler = try? channel.pipeline.syncOperations.handler(type: NIOSSLHandler.self) else { return .unknown }
        return TLSFacts(
            certificate: handler.peerCertificate.flatMap { try? ClientCertificate(der: $0.toDERBytes()) },
            version: handler.tlsVersion.map(Self.name) ?? "none", http2: http2)
    }

    private static func name(_ version: TLSVersion) -> String {
        switch version {
        case .tlsv13: "TLSv1.3"
        case .tlsv12: "TLSv1.2"
        case .tlsv11: "TLSv1.1"
        case .tlsv1: "TLSv1"
        }
    }
}

/// The `TLSFacts` of every open client connection, read once when its handshake completes
/// instead of with a hop to the connection's event loop on each request.
public final class ConnectionFacts: Sendable {
    private let byConnection = Mutex<[ObjectIdentifier: TLSFacts]>([:])

    public init() {}

    /// Records the facts of a connection whose handshake just completed (on its event loop);
    /// they are dropped when it closes.
    func register(_ channel: any Channel, http2: Bool) {
        let key = ObjectIdentifier(channel)
        let facts = TLSFacts.read(fromHandshakenChannel: channel, http2: http2)
        byConnection.withLock { $0[key] = facts }
        channel.closeFuture.whenComplete { [self] _ in _ = byConnection.withLock { $0.removeValue(forKey: key) } }
    }

    /// The facts of the connection `channel` belongs to: itself for HTTP/1.1, its parent for an
    /// HTTP/2 stream.
    func facts(for channel: any Channel) -> TLSFacts {
        let own = ObjectIdentifier(channel)
        let parent = channel.parent.map(ObjectIdentifier.init)
        return byConnection.withLock { facts in facts[own] ?? parent.flatMap { facts[$0] } } ?? .unknown
    }
}
