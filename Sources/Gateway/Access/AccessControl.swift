import Cedar
import Foundation
import Identity
import Synchronization

/// A parsed policy set with its version (the hash of its sources): what every decision and
/// audit record names.
public struct PolicySnapshot: Sendable {
    public let authorizer: Authorizer
    public let version: String

    public init(authorizer: Authorizer, version: String) {
        self.authorizer = authorizer
        self.version = version
    }
}

/// The policy set in force. Replaced as a whole: a request sees the old set or the new one,
/// never a mix, and a set that failed to parse never gets here.
public final class PolicyHolder: Sendable {
    private let current: Mutex<PolicySnapshot?>

    public init(_ initial: PolicySnapshot?) { current = Mutex(initial) }

    public var snapshot: PolicySnapshot? { current.withLock { $0 } }

    public func replace(with snapshot: PolicySnapshot) { current.withLock { $0 = snapshot } }
}

/// The Cedar decision for one request and what it rested on.
public struct AccessDecision: Sendable {
    public let allowed: Bool
    public let policies: [String]
    public let errors: [String]
    public let policyVersion: String?
}

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

/// Builds the Cedar request of `docs/policy-model.md` and decides it. Without a policy set
/// every request is denied.
public struct AccessControl: Sendable {
    let policies: PolicyHolder
    let directory: RevocationFeed

    public init(policies: PolicyHolder, directory: RevocationFeed) {
        self.policies = policies
        self.directory = directory
    }

    public func decide(principal: Principal, route: RouteSettings, request: CanonicalRequest, facts: RequestFacts) -> AccessDecision {
        guard let snapshot = policies.snapshot else {
            return AccessDecision(allowed: false, policies: [], errors: ["no policy set is loaded"], policyVersion: nil)
        }
        let resource = RequestEntities.route(id: route.id, labels: route.labels)
        let entities: Entities
        do {
            entities = try RequestEntities.store(principal: principal.entity, route: resource, hierarchy: directory.snapshot.hierarchy)
        } catch {
            return AccessDecision(allowed: false, policies: [], errors: ["inconsistent entities: \(error)"], policyVersion: snapshot.version)
        }
        let cedarRequest = Cedar.Request(principal: principal.uid, action: EntityUID("Action", request.method.rawValue),
                                         resource: resource.uid, context: Self.context(principal: principal, request: request, facts: facts))
        let response = snapshot.authorizer.isAuthorized(cedarRequest, entities: entities)
        return AccessDecision(allowed: response.decision == .allow, policies: response.reasons,
                              errors: response.errors.map { "\($0.policyID): \($0.error)" }, policyVersion: snapshot.version)
    }

    static func context(principal: Principal, request: CanonicalRequest, facts: RequestFacts) -> [CedarString: Value] {
        func described(_ certificate: ClientCertificate?) -> AccessContext.Certificate? {
            certificate.map { AccessContext.Certificate(spiffeID: $0.spiffeID, serial: $0.serial, sha256: $0.sha256) }
        }
        let device = principal.method == .session ? described(facts.certificate)?.deviceID.map { AccessContext.Device(managed: true, id: $0) } : nil
        return AccessContext.make(
            method: request.method.rawValue, host: request.host, path: request.path, query: request.query, clientAddress: facts.clientAddress,
            tlsVersion: facts.tlsVersion, certificate: described(principal.certificate), authMethod: principal.method?.rawValue ?? "none",
            mfa: principal.mfa, authenticatedAt: principal.authenticatedAt, now: facts.now, device: device)
    }
}
