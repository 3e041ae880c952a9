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

    /// `grpc`: the gRPC method the request calls (`context.grpc`), read once by admission.
    public func decide(
        principal: Principal, route: RouteSettings, request: CanonicalRequest, grpc: GRPCMethod?, facts: RequestFacts,
        hierarchy: RoleHierarchy
    ) -> AccessDecision {
        var access = Self.request(
            principal: principal, resource: RouteEntity(id: route.id, labels: route.labels), request: request, facts: facts)
        access.grpc = grpc
        return policies.decide(access, hierarchy: hierarchy)
    }

    /// Whether a signed-in person may sign in to a tool through the OpenID provider:
    /// `Action::"oidc.sign_in"` on `Client::"<id>"` with the client's labels, the same context
    /// as any request (the authorization request's `http`, the person's `auth`, the clock).
    public func decideSignIn(
        principal: Principal, client: String, labels: [String: String], request: CanonicalRequest, facts: RequestFacts,
        hierarchy: RoleHierarchy
    ) -> AccessDecision {
        var access = Self.request(
            principal: principal, resource: .client(id: client, labels: labels), request: request, facts: facts)
        access.action = ActionEntities.openIDSignIn
        return policies.decide(access, hierarchy: hierarchy)
    }

    private static func request(principal: Principal, resource: RouteEntity, request: CanonicalRequest, facts: RequestFacts) -> AccessRequest {
        // A device certificate counts only beside a browser session.
        let device = principal.method == .session ? facts.certificate?.deviceID.map { AccessRequest.Device(managed: true, id: $0) } : nil
        return AccessRequest(
            principal: principal.entity, method: request.method.rawValue, route: resource,
            host: request.host, path: request.path, query: request.query ?? "", clientAddress: facts.clientAddress,
            tlsVersion: facts.tlsVersion, certificate: principal.certificate, authMethod: principal.method, mfa: principal.mfa,
            authenticatedAt: principal.authenticatedAt, identityProvider: principal.identityProvider, now: facts.now, device: device)
    }
}
