import Foundation
import TestSupport
import Testing

/// The admin console in headless Chromium, driven by Selenium (`Fixtures/console_browser.py`):
/// log in with MFA, introduce a type error (shown at its line, push refused), fix it, read the
/// traffic diff, push, and check through the gateway that the new rule is enforced. Screenshots
/// of every page land in `.build/screenshots/`.
///
/// Needs Debian's `chromium` and `chromium-driver` and Selenium in `PORTCULLIS_PYTHON`
/// (`scripts/test` installs them). Without them the test is skipped, except under CI, where it fails.
@Suite(.serialized) struct ConsoleBrowserTests {
    static let chromium = "/usr/bin/chromium", chromedriver = "/usr/bin/chromedriver"
    static let python = ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"] ?? "/usr/bin/python3"

    static var browserAvailable: Bool {
        let tools = FileManager.default.isExecutableFile(atPath: chromium) && FileManager.default.isExecutableFile(atPath: chromedriver)
        return tools && pythonHas("selenium")
    }

    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["CI"] != nil || browserAvailable,
            "needs chromium, chromium-driver and selenium (scripts/test installs them)"))
    func editTestDiffAndPushPoliciesInABrowser() async throws {
        try #require(Self.browserAvailable, "chromium, chromium-driver and selenium are required under CI")
        try await GatewayFixture.run(policies: ConsoleTests.policies, routes: ConsoleTests.routes, policySource: "database") { gateway in
            let samPassword = try await gateway.createUser("sam", roles: ["security-admin"])
            // A token from before the second factor: the admin API (not MFA-gated) shows when the traffic is recorded.
            let samToken = try gateway.accessToken("sam", samPassword)
            let secret = try ConsoleSession.enrolTOTP(gateway, "sam", samPassword)
            let danaPassword = try await gateway.createUser("dana", roles: ["dispatcher"])
            let dana = try gateway.accessToken("dana", danaPassword)
            let bearer = ["-H", "authorization: Bearer \(dana)"]

            // Traffic for the diff: dana reads shipments, and is refused the reports.
            #expect(try gateway.curl("/v1/shipments", bearer).status == 200)
            #expect(try gateway.curl("/v1/reports", bearer).status == 403)
            var recorded = 0
            for _ in 0..<100 where recorded < 2 {
                let reply = try GatewayFixture.curl([
                    "-H", "authorization: Bearer \(samToken)",
                    "http://127.0.0.1:\(gateway.identityPort)/v1/admin/audit?route=shipments",
                ])
                recorded = reply.body.split(separator: "\n").count
                if recorded < 2 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(recorded == 2, "the traffic is in the audit trail before the diff reads it")

            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let screenshots = root.appendingPathComponent(".build/screenshots").path
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/console_browser.py").path
            let result = try await Self.run(
                Self.python,
                [
                    script, "--url", "https://\(GatewayFixture.signInHost):\(gateway.gatewayPort)", "--certificate", "\(gateway.certs)/gateway.crt",
                    "--login", "sam", "--password", samPassword, "--totp-secret", secret, "--screenshots", screenshots,
                    "--chromium", Self.chromium, "--chromedriver", Self.chromedriver,
                ])
            let consoleLog = gateway.serve.standardError.split(separator: "\n").filter { $0.contains("console") }.joined(separator: "\n")
            #expect(result.status == 0, "\(result.output)\n\(consoleLog)")

            // The pushed rule is enforced by the gateway (the policy feed swaps within a second).
            var status = 0
            for _ in 0..<100 {
                status = try gateway.curl("/v1/reports", bearer).status
                if status == 200 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == 200, "after the push dana may read /v1/reports")
            #expect(try gateway.curl("/v1/invoices", bearer).status == 403)
        }
    }

    /// Whether `python` can import `module` (a package from scripts/requirements-test.txt).
    static func pythonHas(_ module: String) -> Bool {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: python)
        probe.arguments = ["-c", "import \(module)"]
        (probe.standardInput, probe.standardOutput, probe.standardError) = (FileHandle.nullDevice, FileHandle.nullDevice, FileHandle.nullDevice)
        guard (try? probe.run()) != nil else { return false }
        return ChildExit.waitBlocking(probe) == 0
    }

    /// Runs a child to completion with its output in a file (never our pipes), killed after 5 minutes.
    /// `environment` is added to this process's.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String)
    {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("console-browser-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date() + 300
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let processStatus = ChildExit.waitBlocking(process)
        return (processStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}
