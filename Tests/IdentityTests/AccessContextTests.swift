import Cedar
import Foundation
import Identity
import Testing

/// The context record every gateway and admin-API decision sees (docs/policy-model.md).
@Suite struct AccessContextTests {
    func certificate(_ spiffeID: String?) -> AccessContext.Certificate {
        AccessContext.Certificate(spiffeID: spiffeID, serial: "0a", sha256: "ff")
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
        let context = AccessContext.make(method: "GET", host: "ops.internal", path: "/v1/ADMIN/Users/Élodie", query: "a=B", clientAddress: "192.0.2.7",
                                         tlsVersion: "TLSv1.3", certificate: nil, authMethod: "token", mfa: false, authenticatedAt: nil,
                                         now: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(context["http"] == .record([
            "method": .string("GET"), "host": .string("ops.internal"), "path": .string("/v1/ADMIN/Users/Élodie"),
            "lowercased_path": .string("/v1/admin/users/Élodie"), "query": .string("a=B"),
        ]))
    }

    @Test func theDeviceRecordAppearsOnlyWithADevice() {
        func context(_ deviceID: String?) -> [CedarString: Value] {
            AccessContext.make(method: "GET", host: "ops.internal", path: "/", query: nil, clientAddress: "192.0.2.7", tlsVersion: "TLSv1.3",
                               certificate: nil, authMethod: "session", mfa: true, authenticatedAt: nil,
                               now: Date(timeIntervalSince1970: 1_700_000_000), device: deviceID.map { AccessContext.Device(managed: true, id: $0) })
        }
        #expect(context(nil)["device"] == nil)
        #expect(context("laptop-17")["device"] == .record(["managed": .bool(true), "id": .string("laptop-17")]))
        // 2023-11-14T22:13:20Z was a Tuesday.
        #expect(context(nil)["time"] == .record([
            "now": .datetime(CedarDatetime(epochMilliseconds: 1_700_000_000_000)), "hour": .long(22), "weekday": .long(2),
        ]))
    }
}
