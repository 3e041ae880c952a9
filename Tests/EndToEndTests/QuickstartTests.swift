import Foundation
import TestSupport
import Testing
import Tokens

/// `portcullis up` in the background on free ports, walked through the way docs/quickstart.md
/// walks a newcomer through it: a token, a service certificate, a browser session with its CSRF
/// token, a denial, and the audit records of each.
@Suite(.serialized) struct QuickstartTests {
    @Test func theQuickstartWorksAsWritten() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let state = FileManager.default.temporaryDirectory.appendingPathComponent("up-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: state) }
            let (gateway, identity, admin) = (try FreePort.reserve(), try FreePort.reserve(), try FreePort.reserve())
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let up = try PortcullisProcess([
                "up", "--state", state.path, "--database-url", url.connectionString, "--gateway-port", "\(gateway)",
                "--identity-port", "\(identity)", "--admin-port", "\(admin)", "--seed", root.appendingPathComponent("deploy/demo/seed.yaml").path,
                "--policies", root.appendingPathComponent("policies").path,
                "--demo-executable", PortcullisProcess.siblingBinaryURL("logistics-demo").path,
            ])
            defer { up.signal(SIGKILL) }
            var ready = false
            for _ in 0..<600 where !ready {
                ready = (try? Curl.get("http://127.0.0.1:\(admin)/readyz").status) == 200
                if !ready {
                    guard up.isRunning else { throw PortcullisProcess.Failure(description: "portcullis up stopped: \(up.standardError)") }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(ready, "portcullis up never became ready: \(up.standardError)")
            #expect(up.standardOutput.contains("dana     demo-dispatcher-2026"))

            let certs = state.appendingPathComponent("certs").path
            func curl(_ host: String, _ path: String, _ extra: [String] = []) throws -> GatewayFixture.Reply {
                try GatewayFixture.curl(
                    [
                        "--cacert", "\(certs)/ca-bundle.crt", "--resolve", "\(host):\(gateway):127.0.0.1", "--resolve",
                        "auth.localhost:\(gateway):127.0.0.1",
                    ]
                        + extra
                        + ["https://\(host):\(gateway)\(path)"])
            }
            // 1. A token for the dispatcher, then the shipments API with it.
            let login = try curl(
                "localhost", "/v1/login",
                [
                    "-H", "content-type: application/json",
                    "-d", #"{"login":"dana","password":"demo-dispatcher-2026"}"#,
                ])
            let token = try #require(login.json["access_token"] as? String, "\(login.body)")
            let shipments = try curl("shipments.localhost", "/v1/shipments", ["-H", "authorization: Bearer \(token)"])
            #expect(shipments.status == 200)
            #expect((shipments.json["caller"] as? [String: Any])?["sub"] as? String == "dana")

            // 1b. The security admin's second factor, enrolled by the seed with its published secret:
            // the password alone asks for a code, and a code from that secret completes the login.
            #expect(up.standardOutput.contains("TOTP secret DEMOSAMSECONDFACTORTWENTYTWENTYS"))
            let first = try curl(
                "localhost", "/v1/login",
                [
                    "-H", "content-type: application/json",
                    "-d", #"{"login":"sam","password":"demo-security-2026"}"#,
                ])
            #expect(first.status == 401 && first.json["error"] as? String == "mfa_required", "\(first.body)")
            let challenge = try #require(first.json["challenge"] as? String)
            // The next step's code: enrolment used the current one, and a code is never accepted twice.
            let code = TOTP(secret: try #require(Base32.decode("DEMOSAMSECONDFACTORTWENTYTWENTYS"))).code(at: Date() + TOTP.period)
            let second = try curl(
                "localhost", "/v1/login/mfa",
                [
                    "-H", "content-type: application/json",
                    "-d", #"{"challenge":"\#(challenge)","totp":"\#(code)"}"#,
                ])
            #expect(second.status == 200 && second.json["access_token"] is String, "\(second.body)")

            // 2. The billing service with its client certificate.
            let service = try curl("shipments.localhost", "/v1/shipments", ["--cert", "\(certs)/billing.crt", "--key", "\(certs)/billing.key"])
            #expect(service.status == 200)
            #expect((service.json["caller"] as? [String: Any])?["kind"] as? String == "service")

            // 3. A denial: a dispatcher has no business in billing; its request id is in the audit log.
            let denied = try curl("billing.localhost", "/v1/invoices", ["-H", "authorization: Bearer \(token)"])
            #expect(denied.status == 403)
            let deniedID = try #require(denied.json["request_id"] as? String)

            // 4. The browser: shipments sends it to the sign-in host, which shows the form; after
            //    it, single sign-on brings it back with a code and a cookie of its own. Fleet then
            //    opens with no second form, and the ops console is refused (dana is no ops admin).
            let jar = state.appendingPathComponent("cookies.txt").path
            let browser = ["-L", "-b", jar, "-c", jar, "-H", "accept: text/html"]
            let form = try curl("shipments.localhost", "/v1/shipments", browser)
            let csrf = try #require(form.body.firstMatch(of: /name="csrf" value="([^"]+)"/).map { String($0.1) }, "\(form.body)")
            let next = try #require(form.body.firstMatch(of: /name="next" value="([^"]+)"/).map { String($0.1) })
            let signIn = try curl(
                "auth.localhost", "/.portcullis/login",
                browser + [
                    "--data-urlencode", "login=dana", "--data-urlencode", "password=demo-dispatcher-2026", "--data-urlencode", "csrf=\(csrf)",
                    "--data-urlencode", "next=\(next.replacingOccurrences(of: "&amp;", with: "&"))",
                ])
            #expect(signIn.status == 200 && signIn.body.contains("shipments"), "\(signIn.status) \(signIn.body)")
            let fleet = try curl("fleet.localhost", "/v1/vehicles", browser)
            #expect(fleet.status == 200 && !fleet.body.contains("name=\"password\""), "\(fleet.status) \(fleet.body)")
            #expect(try curl("ops.localhost", "/", browser).status == 403)

            var record = ""
            for _ in 0..<100 where !record.contains(deniedID) {
                record = try await GatewayFixture.cli(
                    ["audit", "search", "--request-id", deniedID], environment: ["PORTCULLIS_DATABASE_URL": url.connectionString])
                if !record.contains(deniedID) { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(record.contains(#""outcome":"deny""#) && record.contains(#""route":"billing""#), "\(record)")

            // 5. Change a policy, test, diff, push and roll back: the doc's commands, run as written.
            let document = try QuickstartDocument(root: root)
            let blocks = document.blocks(inSection: "## 5.")
            #expect(blocks.count == 5)
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("policies-new-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            for block in blocks {
                let script = block.commands.replacingOccurrences(of: ".build/release/portcullis", with: PortcullisProcess.binaryURL.path)
                    .replacingOccurrences(of: ".portcullis/", with: state.path + "/").replacingOccurrences(of: "8443", with: "\(gateway)")
                    .replacingOccurrences(of: "/tmp/policies-new", with: scratch)
                let run = try PortcullisProcess(
                    ["-c", script],
                    environment: [
                        "CA": "\(certs)/ca-bundle.crt", "TOKEN": token, "PORTCULLIS_DATABASE_URL": url.connectionString,
                    ], executable: URL(fileURLWithPath: "/bin/bash"), workingDirectory: root)
                _ = try await run.wait(timeout: .seconds(120))
                let produced = run.standardOutput.replacingOccurrences(of: scratch, with: "/tmp/policies-new")
                let shown = try #require(block.shownOutput, "the doc shows no output for: \(block.commands)")
                #expect(
                    QuickstartDocument.normalized(produced) == QuickstartDocument.normalized(shown),
                    "docs/quickstart.md step 5 shows\n\(shown)\nbut\n\(block.commands)\nprints\n\(produced)\n\(run.standardError)")
            }

            // Ctrl-C stops everything, the demo services included.
            up.signal(SIGINT)
            #expect(try await up.wait() == 0)
            #expect(try Curl.get("http://127.0.0.1:\(admin)/readyz").status != 200)
        }
    }
}
