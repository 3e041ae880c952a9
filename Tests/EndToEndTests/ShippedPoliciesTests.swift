import Foundation
import TestSupport
import Testing

/// The policies shipped in `policies/` typecheck against the shipped request model, so the
/// schema and the policies cannot drift apart unnoticed.
@Suite struct ShippedPoliciesTests {
    @Test func shippedPoliciesValidateAgainstTheSchema() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = try PortcullisProcess([
            "policy", "validate", root.appendingPathComponent("policies").path,
            "--schema", root.appendingPathComponent("policies/schema.cedarschema").path,
        ])
        #expect(try await process.wait() == 0, "\(process.standardOutput)\(process.standardError)")
        #expect(process.standardOutput.contains("valid against the schema"))
    }
}
