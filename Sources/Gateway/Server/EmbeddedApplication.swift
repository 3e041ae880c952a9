import Foundation
import Hummingbird

/// An application the gateway serves itself under a reserved path prefix (the admin console)
/// instead of forwarding: the request passes the same checks as any routed request
/// (canonicalization, authentication, route admission, Cedar with the mount's route) and is
/// audited the same way; only then does the application see it, with the principal the gateway
/// established. The gateway does not know what the application is, so it never imports it.
public protocol EmbeddedApplication: Sendable {
    func respond(to request: Request, caller: EmbeddedCaller) async -> Response
}

/// Who is calling an embedded application, as the gateway decided it.
public struct EmbeddedCaller: Sendable {
    public let principal: Principal
    /// The gateway's request id (also in the access record and the `X-Request-Id` header).
    public let requestID: String
    /// The policies that allowed the request and the version of the set, for change records.
    public let policies: [String]
    public let policyVersion: String?
    public let clientAddress: String
    /// Canonical host and path of the request.
    public let host: String
    public let path: String
}

/// Where an embedded application is mounted, and the Cedar resource that guards it.
public struct EmbeddedMount: Sendable {
    /// The admin console's prefix, served on the sign-in host only.
    public static let consolePrefix = SignInPages.prefix + "admin/"

    /// Ends with `/`; the same path without it is served too.
    public let prefix: String
    /// `Route::"<id>"` with `labels` as tags: what policies name to allow the application.
    let route: RouteSettings
    let application: any EmbeddedApplication

    public init(prefix: String, routeID: String, labels: [String: String], maxBodyBytes: Int, application: any EmbeddedApplication) {
        precondition(prefix.hasPrefix("/") && prefix.hasSuffix("/"), "a mount prefix starts and ends with /")
        self.prefix = prefix
        // Never forwarded: the upstream is a placeholder no request reaches.
        self.route = RouteSettings(
            id: routeID, hosts: [], pathPrefix: prefix, upstream: URL(string: "embedded:\(routeID)")!,
            labels: labels, maxBodyBytes: maxBodyBytes)
        self.application = application
    }

    func matches(_ path: String) -> Bool {
        path.hasPrefix(prefix) || path == String(prefix.dropLast())
    }
}
