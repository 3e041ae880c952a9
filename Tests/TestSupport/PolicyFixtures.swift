import Foundation

/// Policy sets for tests of the policy store and its rollout: validated against the shipped
/// request model, as operators' sets are.
public enum PolicyFixtures {
    /// `policies/schema.cedarschema` of this checkout.
    public static let schema = try! String(
        contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("policies/schema.cedarschema"), encoding: .utf8)

    /// Anyone may GET paths under `/<prefix>` of `Route::"shipments"`, nothing else (`@id("open-<prefix>")`).
    public static func opens(_ prefix: String) -> String {
        """
        @id("open-\(prefix)")
        permit (principal, action == Action::"GET", resource == Route::"shipments")
        when { context.http.path like "/\(prefix)*" };
        """
    }
}
