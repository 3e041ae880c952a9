import Hummingbird
import NIOCore

/// Request context of the identity API: Hummingbird's core storage plus the TCP peer, which
/// throttling and audit need (and which `X-Forwarded-For` may only override for trusted proxies).
public struct IdentityRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let peerAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// The client address: the peer, or the last `X-Forwarded-For` hop when the peer is a trusted proxy.
    func clientInfo(_ request: Request, settings: IdentitySettings) -> ClientInfo {
        var address = peerAddress
        if settings.trustedProxies.contains(peerAddress), let forwarded = request.headers[values: .init("X-Forwarded-For")!].last,
            let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty, last.count <= 45
        {
            address = last
        }
        return ClientInfo(address: address, userAgent: request.headers[.userAgent] ?? "")
    }
}
