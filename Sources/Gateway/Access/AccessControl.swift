import AccessModel
import Foundation
import HTTPSyntax

/// Facts about the connection and the clock that go into a request's Cedar context.
public struct RequestFacts: Sendable {
    public var clientAddress: String
    public var tlsVersion: String
    /// The connection's client certificate: the device of a browser session (`context.device`).
    /// `context.cert` comes from `Principal.certificate`, the one that authenticated the principal.
    public var certificate: ClientCertificate?
    public var now: Date

    public init(clientAddress: String, tlsVersion: String, certificate: ClientCertificate?, now: Date = Date()) {
        self.clientAddress = clientAddress
        self.tlsVersion = tlsVersion
        self.certificate = certificate
        self.now = now
    }
}

/// Decides gateway requests with the policy set in force: the request model of
/// `docs/policy-model.md` (AccessModel) filled in from the principal, the route and the
/// canonical request. Without a policy set every request is denied.
public struct AccessControl: Sendable {
    let policies: PolicyHolder

    public init(policies: PolicyHolder) {
        self.policies = policies
    }

    public func decide(
        principal: Principal, route: RouteSettings, request: CanonicalRequest, facts: RequestFacts,
        hierarchy: RoleHierarchy
    ) -> AccessDecision {
        policies.decide(Self.request(principal: principal, route: route, request: request, facts: facts), hierarchy: hierarchy)
    }

    static func request(principal: Principal, route: RouteSettings, request: CanonicalRequest, facts: RequestFacts) -> AccessRequest {
        // A device certificate counts only beside a browser session.
        let device = principal.method == .session ? facts.certificate?.deviceID.map { AccessRequest.Device(managed: true, id: $0) } : nil
        return AccessRequest(
            principal: principal.entity, method: request.method.rawValue, route: RouteEntity(id: route.id, labels: route.labels),
            host: request.host, path: request.path, query: request.query ?? "", clientAddress: facts.clientAddress,
            tlsVersion: facts.tlsVersion, certificate: principal.certificate, authMethod: principal.method, mfa: principal.mfa,
            authenticatedAt: principal.authenticatedAt, identityProvider: principal.identityProvider, now: facts.now, device: device)
    }
}
