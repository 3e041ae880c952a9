import AccessModel
import Cedar
import Foundation
import Testing

/// The context record every gateway and admin-API decision sees (docs/policy-model.md).
@Suite struct AccessContextTests {
    func certificate(_ spiffeID: String?) -> ClientCertificate {
        ClientCertificate(spiffeID: spiffeID, serial: "0a", sha256: "ff")
    }

    func request(
        path: String = "/", query: String = "", authMethod: AuthMethod? = .token, mfa: Bool = false,
        device: AccessRequest.Device? = nil
    ) -> AccessRequest {
        AccessRequest(
            principal: PrincipalEntity.user(login: "dana", roles: [], groups: []), method: "GET", route: RouteEntity(id: "ops"),
            host: "ops.internal", path: path, query: query, clientAddress: "192.0.2.7", tlsVersion: "TLSv1.3",
            authMethod: authMethod, mfa: mfa, now: Date(timeIntervalSince1970: 1_700_000_000), device: device)
    }

    @Test func deviceCertificatesAreRecognisedByTheirSPIFFEPath() {
        #expect(certificate("spiffe://logistics.internal/device/laptop-17").deviceID == "laptop-17")
        #expect(certificate("spiffe://logistics.internal/billing").deviceID == nil)
        #expect(certificate("spiffe://logistics.internal/device/").deviceID == nil)
        #expect(certificate("spiffe://logistics.internal/device/a/b").deviceID == nil)
        #expect(certificate("spiffe://logistics.internal/services/device/x").deviceID == nil)
        #expect(certificate(nil).deviceID == nil)
    }

    /// Rules about a path that must hold against upstreams that ignore case use
    /// `context.http.lowercased_path` (issue 18, item 6); `path` stays exact.
    @Test func theHTTPRecordCarriesTheExactAndTheLowercasedPath() {
        let context = request(path: "/v1/ADMIN/Users/Élodie", query: "a=B").context
        #expect(
            context["http"]
                == .record([
                    "method": .string("GET"), "host": .string("ops.internal"), "path": .string("/v1/ADMIN/Users/Élodie"),
                    "lowercased_path": .string("/v1/admin/users/Élodie"), "query": .string("a=B"),
                ]))
    }

    @Test func theDeviceRecordAppearsOnlyWithADevice() {
        func context(_ deviceID: String?) -> [CedarString: Value] {
            request(authMethod: .session, mfa: true, device: deviceID.map { AccessRequest.Device(managed: true, id: $0) }).context
        }
        #expect(context(nil)["device"] == nil)
        #expect(context("laptop-17")["device"] == .record(["managed": .bool(true), "id": .string("laptop-17")]))
        // 2023-11-14T22:13:20Z was a Tuesday.
        #expect(
            context(nil)["time"]
                == .record([
                    "now": .datetime(CedarDatetime(epochMilliseconds: 1_700_000_000_000)), "hour": .long(22), "weekday": .long(2),
                ]))
    }

    /// A request without credentials shows `auth.method == "none"`.
    @Test func anAnonymousRequestShowsNoMethod() {
        #expect(request(authMethod: nil).context["auth"] == .record(["method": .string("none"), "mfa": .bool(false)]))
    }

    /// The entity store holds the hierarchy plus the request's principal and route; a decision
    /// without policies denies.
    @Test func theRequestIsDecidedAgainstTheHierarchy() throws {
        let hierarchy = RoleHierarchy(parents: ["dispatcher": ["staff"], "staff": []], groups: ["drivers"])
        var access = request()
        access.principal = PrincipalEntity.user(login: "dana", roles: ["dispatcher"], groups: ["drivers"])
        let (cedar, entities) = try access.cedar(hierarchy: hierarchy)
        #expect(cedar.principal == EntityUID("User", "dana"))
        #expect(cedar.action == EntityUID("Action", "GET"))
        #expect(entities.isDescendant(EntityUID("User", "dana"), of: EntityUID("Role", "staff")))
        let policies = try PolicySet.parse(#"permit (principal in Role::"staff", action in Action::"read", resource == Route::"ops");"#).get()
        let snapshot = PolicySnapshot(authorizer: Authorizer(policies), version: "v1")
        #expect(snapshot.decide(access, hierarchy: hierarchy).allowed)
        access.method = "POST"
        #expect(!snapshot.decide(access, hierarchy: hierarchy).allowed)
        #expect(PolicyHolder(nil).decide(access, hierarchy: hierarchy) == .noPolicySet)
    }

    /// `context.grpc` (issue 23): present for a gRPC call only, with its service and method.
    @Test func theGRPCRecordAppearsOnlyForGRPCCalls() {
        var call = request(path: "/logistics.fleet.v1.Positions/Watch")
        #expect(call.context["grpc"] == nil)
        call.grpc = GRPCMethod(path: call.path)
        #expect(call.context["grpc"] == .record(["service": .string("logistics.fleet.v1.Positions"), "method": .string("Watch")]))
    }
}
