import Foundation
import TestSupport
import Testing

/// The demo's browser walkthrough in headless Chromium (`Fixtures/sso_browser.py`): one sign-in
/// opens the four demo tools, sign-out in one tab signs the other out, a role removed by an
/// administrator reaches the open session at once (the time is printed), and the console does
/// not exist on a tool's host. Screenshots land in `.build/screenshots/`.
@Suite(.serialized) struct SingleSignOnBrowserTests {
    static let routes = """
            - id: shipments
              hosts: [shipments.localhost]
              path: /
              upstream: LOGISTICS_SHIPMENTS
            - id: fleet
              hosts: [fleet.localhost]
              path: /
              upstream: LOGISTICS_FLEET
            - id: billing
              hosts: [billing.localhost]
              path: /
              upstream: LOGISTICS_BILLING
            - id: ops-console
              hosts: [ops.localhost]
              path: /
              upstream: LOGISTICS_OPS_CONSOLE
        """

    static let policies = [
        "tools.cedar": """
        @id("staff-open-every-tool")
        permit (principal in Role::"staff", action in Action::"read", resource);
        """
    ]

    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["CI"] != nil || ConsoleBrowserTests.browserAvailable,
            "needs chromium, chromium-driver and selenium (scripts/test installs them)"))
    func oneSignInOpensEveryToolInABrowser() async throws {
        try #require(ConsoleBrowserTests.browserAvailable, "chromium, chromium-driver and selenium are required under CI")
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let password = try await gateway.createUser("dana", roles: ["staff"])
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/sso_browser.py").path
            let result = try await ConsoleBrowserTests.run(
                ConsoleBrowserTests.python,
                [
                    script, "--port", "\(gateway.gatewayPort)", "--certificate", "\(gateway.certs)/gateway.crt", "--login", "dana",
                    "--password", password, "--screenshots", root.appendingPathComponent(".build/screenshots").path,
                    "--chromium", ConsoleBrowserTests.chromium, "--chromedriver", ConsoleBrowserTests.chromedriver,
                    "--revoke", PortcullisProcess.binaryURL.path, "role", "revoke", "staff", "--user", "dana",
                ], environment: gateway.environment)
            print(result.output.split(separator: "\n").filter { !$0.hasPrefix("FAILED") }.joined(separator: "\n"))
            #expect(result.status == 0, "\(result.output)")
        }
    }
}
