import Cedar
import Foundation

/// One request as Portcullis decides it (`docs/policy-model.md`): who, which HTTP method on which
/// route, and the facts that make up the Cedar context. The gateway, the admin API and the policy
/// tools (`policy test`, `explain`, `diff`, `replay`) all fill one in and decide it the same way,
/// so a tested request is the request the gateway decides.
public struct AccessRequest: Sendable {
    /// The principal entity (`PrincipalEntity`).
    public var principal: Entity
    /// The HTTP method: the action (unless `action` names another), and `context.http.method`.
    public var method: String
    /// An action other than the method: `oidc.sign_in` when a person signs in to a tool.
    public var action: String?
    /// `Route::"<id>"`, or `Client::"<id>"` with `action` `oidc.sign_in`.
    public var route: RouteEntity
    public var host: String
    /// The canonical path.
    public var path: String
    public var query: String
    public var clientAddress: String
    public var tlsVersion: String
    /// The certificate that authenticated the principal (`context.cert`).
    public var certificate: ClientCertificate?
    /// nil for a request without credentials.
    public var authMethod: AuthMethod?
    public var mfa: Bool
    /// When the second factor, else the credential, was obtained.
    public var authenticatedAt: Date?
    /// The identity provider the session was opened with (`context.auth.provider`); nil for
    /// Portcullis's own sign-in and for services.
    public var identityProvider: String?
    public var now: Date
    /// A managed device that accompanies a browser session (`context.device`).
    public var device: Device?
    /// The gRPC method a gRPC request calls (`context.grpc`); nil for any other request.
    public var grpc: GRPCMethod?

    /// A device as the context shows it: the gateway fills it from a device certificate that
    /// accompanies a browser session (`ClientCertificate.deviceID`); the policy tools from a test case.
    public struct Device: Sendable {
        public var managed: Bool
        public var id: String

        public init(managed: Bool, id: String) {
            self.managed = managed
            self.id = id
        }
    }

    public init(
        principal: Entity, method: String, route: RouteEntity, host: String, path: String, query: String = "",
        clientAddress: String, tlsVersion: String, certificate: ClientCertificate? = nil, authMethod: AuthMethod?,
        mfa: Bool = false, authenticatedAt: Date? = nil, identityProvider: String? = nil, now: Date, device: Device? = nil,
        grpc: GRPCMethod? = nil
    ) {
        self.principal = principal
        self.method = method
        self.route = route
        self.host = host
        self.path = path
        self.query = query
        self.clientAddress = clientAddress
        self.tlsVersion = tlsVersion
        self.certificate = certificate
        self.authMethod = authMethod
        self.mfa = mfa
        self.authenticatedAt = authenticatedAt
        self.identityProvider = identityProvider
        self.now = now
        self.device = device
        self.grpc = grpc
    }

    /// The Cedar request and its entity store; fails only when the principal or route collides
    /// with an entity of the hierarchy (e.g. a principal named like a role with other parents).
    public func cedar(hierarchy: RoleHierarchy) throws(InputError) -> (request: Cedar.Request, entities: Entities) {
        let entities = try hierarchy.entities.get().withLeaves([principal, route.entity])
        return (
            Cedar.Request(principal: principal.uid, action: ActionEntities.uid(action ?? method), resource: route.uid, context: context),
            entities
        )
    }
}
