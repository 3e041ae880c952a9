import Foundation
import TestSupport
import Testing

/// A gateway refusal reaches a gRPC client (grpcio, nobody here wrote it) as a gRPC status it can
/// read, in the trailers of an HTTP/2 answer, not as an HTML or JSON body it cannot (issue 23,
/// first part). Every refusal is still audited as before.
@Suite(.serialized) struct GRPCRefusalTests {
    @Test func refusalsReachGRPCClientsAsStatuses() async throws {
        try #require(ConsoleBrowserTests.pythonHas("grpc"), "grpcio is required (scripts/test installs it)")
        try await GatewayFixture.run(policies: SingleSignOnTests.policies, routes: SingleSignOnTests.routes) { gateway in
            let password = try await gateway.createUser("drew", roles: ["driver"])
            let token = try gateway.accessToken("drew", password)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/grpc_refusals.py").path
            let output = try GatewayFixture.standardOutput(
                of: ConsoleBrowserTests.python,
                [
                    script, "--port", "\(gateway.gatewayPort)", "--ca", "\(gateway.certs)/ca-bundle.crt",
                    "--call", "shipments.localhost,", "--call", "shipments.localhost,\(token)", "--call", "shipments.localhost,not-a-token",
                ])
            let calls = try #require((try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [[String: String]], "\(output)")
            #expect(calls.map { $0["code"] } == ["UNAUTHENTICATED", "PERMISSION_DENIED", "UNAUTHENTICATED"], "\(calls)")
            #expect(calls.allSatisfy { !($0["details"] ?? "").isEmpty }, "each status says why: \(calls)")
            let audit = try await gateway.auditSearch(["--route", "shipments", "--limit", "20"]) { $0.contains(#""outcome":"deny""#) }
            #expect(audit.contains(#""action":"POST""#) && audit.contains("/logistics.Tracking/Locate"), "\(audit)")
        }
    }
}
