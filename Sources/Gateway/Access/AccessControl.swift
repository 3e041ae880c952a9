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
        let resource = Entity(uid: EntityUID("Route", route.id),
                              attributes: route.labels.reduce(into: [:]) { $0[CedarString($1.key)] = .string(CedarString($1.value)) })
        let entities: Entities
        do {
            entities = try Entities([principal.entity, resource] + directory.snapshot.hierarchy.cedarEntities() + PrincipalEntity.actions)
        } catch {
            return AccessDecision(allowed: false, policies: [], errors: ["inconsistent entities: \(error)"], policyVersion: snapshot.version)
        }
        let cedarRequest = Cedar.Request(principal: principal.uid, action: EntityUID("Action", request.method.rawValue),
                                         resource: resource.uid, context: Self.context(principal: principal, request: request, facts: facts))
        let response = snapshot.authorizer.isAuthorized(cedarRequest, entities: entities)
        return AccessDecision(allowed: response.decision == .allow, policies: response.reasons,
                              errors: response.errors.map { "\($0.policyID): \($0.error)" }, policyVersion: snapshot.version)
    }

    /// `http`, `client`, `cert`, `auth` and `time`, exactly as documented for policy authors.
    static func context(principal: Principal, request: CanonicalRequest, facts: RequestFacts) -> [CedarString: Value] {
        func string(_ text: String) -> Value { .string(CedarString(text)) }
        func datetime(_ date: Date) -> Value { .datetime(CedarDatetime(epochMilliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))) }
        let calendarSeconds = Int64(facts.now.timeIntervalSince1970.rounded(.down))
        let hour = (calendarSeconds % 86_400) / 3600
        // 1970-01-01 was a Thursday; weekday counts Monday = 1 … Sunday = 7 (ISO 8601).
        let weekday = ((calendarSeconds / 86_400) + 3) % 7 + 1
        var client: [CedarString: Value] = ["tls_version": string(facts.tlsVersion)]
        if case let .success(address) = IPAddress.parse(facts.clientAddress) { client["ip"] = .ipaddr(address) }
        var certificate: [CedarString: Value] = ["present": .bool(facts.certificate != nil)]
        if let cert = facts.certificate {
            certificate["serial"] = string(cert.serial)
            certificate["sha256"] = string(cert.sha256)
            if let spiffeID = cert.spiffeID { certificate["spiffe_id"] = string(spiffeID) }
        }
        var auth: [CedarString: Value] = ["method": string(principal.method?.rawValue ?? "none"), "mfa": .bool(principal.mfa)]
        if let at = principal.authenticatedAt { auth["authenticated_at"] = datetime(at) }
        return [
            "http": .record(["method": string(request.method.rawValue), "host": string(request.host), "path": string(request.path),
                             "query": string(request.query ?? "")]),
            "client": .record(client),
            "cert": .record(certificate),
            "auth": .record(auth),
            "time": .record(["now": datetime(facts.now), "hour": .long(hour), "weekday": .long(weekday)]),
        ]
    }
}
