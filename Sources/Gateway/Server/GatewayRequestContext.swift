import Hummingbird
import NIOCore
import NIOSSL
import X509

/// Per-request context: Hummingbird's storage plus the channel, through which the TLS facts of
/// the connection (client certificate, protocol version) are read.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    var clientAddress: String { (channel.parent ?? channel).remoteAddress?.ipAddress ?? channel.remoteAddress?.ipAddress ?? "unknown" }

    /// The verified client certificate and TLS version of this request's connection, in one hop
    /// to the event loop. For HTTP/2 the request runs on a stream channel and TLS lives on its
    /// parent; for HTTP/1 the parent is the listening socket, so the handler is looked up here first.
    func tlsFacts() async -> TLSFacts {
        await TLSFacts.read(from: channel)
    }
}

/// What the TLS layer of a connection established: the verified client certificate, if one was
/// presented, and the protocol version.
struct TLSFacts {
    let certificate: NIOSSLCertificate?
    let version: String

    /// Reads the facts of `channel`'s connection, in one hop to its event loop.
    static func read(from channel: any Channel) async -> TLSFacts {
        let facts = try? await channel.eventLoop.submit { () -> (NIOSSLCertificate?, TLSVersion?) in
            for candidate in [channel, channel.parent].compactMap({ $0 }) {
                if let handler = try? candidate.pipeline.syncOperations.handler(type: NIOSSLHandler.self) {
                    return (handler.peerCertificate, handler.tlsVersion)
                }
            }
            return (nil, nil)
        }.get()
        return TLSFacts(certificate: facts?.0, version: facts?.1.map(Self.name) ?? "none")
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
