import Foundation
import HTTPTypes
import Hummingbird
import Testing

@testable import LogisticsDemo

/// The demo APIs behind a valid assertion: validation refuses bad input whole, the ops console
/// escapes what it shows, and the command line refuses ambiguous setups.
@Suite struct ServiceTests {
    @Test func invalidInputIsRefusedWholeAndChangesNothing() async throws {
        try await DemoHarness.run(.fleet) { demo in
            let bad = try await demo.request(
                .post, "/v1/vehicles", token: demo.assertion(.post, "/v1/vehicles"),
                body: #"{"plate":"RT-1","model":"DAF","capacity_kg":"heavy","depot":"","colour":"red"}"#)
            #expect(bad.status == .badRequest)
            #expect(bad.json["error"] as? String == "invalid_input")
            let fields = (bad.json["fields"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
            #expect(fields == ["capacity_kg", "depot", "colour"])

            #expect(
                try await demo.request(.post, "/v1/vehicles", token: demo.assertion(.post, "/v1/vehicles"), body: "[1]").json["error"] as? String
                    == "malformed_body")

            // One valid change and one invalid one: neither is applied.
            let patch = try await demo.request(
                .patch, "/v1/drivers/DRV-21", token: demo.assertion(.patch, "/v1/drivers/DRV-21"),
                body: #"{"status":"off_duty","licence_class":"Z"}"#)
            #expect(patch.status == .badRequest)
            let driver = try await demo.request(.get, "/v1/drivers/DRV-21", token: demo.assertion(.get, "/v1/drivers/DRV-21"))
            #expect(driver.json["status"] as? String == "active")
            #expect(driver.json["updated"] == nil)

            let empty = try await demo.request(.patch, "/v1/drivers/DRV-21", token: demo.assertion(.patch, "/v1/drivers/DRV-21"), body: "{}")
            #expect(empty.status == .badRequest)

            let list = try await demo.request(.get, "/v1/vehicles", token: demo.assertion(.get, "/v1/vehicles"))
            #expect((list.json["vehicles"] as? [Any])?.count == 4)
            let filtered = try await demo.request(.get, "/v1/vehicles?colour=red", token: demo.assertion(.get, "/v1/vehicles"))
            #expect(filtered.status == .badRequest)

            let missing = try await demo.request(.get, "/v1/vehicles/VEH-99", token: demo.assertion(.get, "/v1/vehicles/VEH-99"))
            #expect(missing.status == .notFound)
        }
    }

    @Test func invoicesAreCreatedButNeverEdited() async throws {
        try await DemoHarness.run(.billing) { demo in
            let created = try await demo.request(
                .post, "/v1/invoices", token: demo.assertion(.post, "/v1/invoices", subject: "billing"),
                body: #"{"customer":"Nordwind Foods","shipment_id":"SHP-1005","amount_cents":41250,"currency":"EUR"}"#)
            #expect(created.status == .created)
            #expect(created.json["id"] as? String == "INV-5003")
            #expect((created.json["created"] as? [String: Any])?["by"] as? String == "billing")
            let edit = try await demo.request(
                .patch, "/v1/invoices/INV-5003", token: demo.assertion(.patch, "/v1/invoices/INV-5003"),
                body: #"{"amount_cents":1}"#)
            #expect(edit.status != .ok)
            let after = try await demo.request(.get, "/v1/invoices/INV-5003", token: demo.assertion(.get, "/v1/invoices/INV-5003"))
            #expect(after.json["amount_cents"] as? Int == 41250)
        }
    }

    @Test func opsConsoleShowsTheAssertedCallerUnderAStrictPolicy() async throws {
        let links = [ConsoleLink(label: "Shipments <API>", url: "https://shipments.localhost:8443/v1/shipments")]
        try await DemoHarness.run(.opsConsole, links: links) { demo in
            let page = try await demo.request(.get, "/", token: demo.assertion(.get, "/", subject: "<script>alert(1)</script>"))
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!page.text.contains("<script"))
            #expect(page.text.contains(#"<a href="https://shipments.localhost:8443/v1/shipments">Shipments &lt;API&gt;</a>"#))
            let csp = try #require(page.headers[.contentSecurityPolicy])
            #expect(csp.hasPrefix("default-src 'none'; style-src 'nonce-"))
            let nonce = try #require(csp.split(separator: "'nonce-").last?.split(separator: "'").first)
            #expect(page.text.contains("<style nonce=\"\(nonce)\">"))
            #expect(page.headers[.xContentTypeOptions] == "nosniff")

            let again = try await demo.request(.get, "/", token: demo.assertion(.get, "/"))
            #expect(again.headers[.contentSecurityPolicy] != csp, "a nonce is never reused")

            let whoami = try await demo.request(.get, "/v1/whoami", token: demo.assertion(.get, "/v1/whoami", requestID: "req-7"))
            #expect((whoami.json["caller"] as? [String: Any])?["request_id"] as? String == "req-7")
            #expect((whoami.json["caller"] as? [String: Any])?["amr"] as? [String] == ["token"])
        }
    }

    @Test func commandLineChoicesAreCheckedBeforeAnythingStarts() throws {
        func make(
            all: Bool = false, service: String? = nil, listen: String? = nil, basePort: Int? = nil, jwks: String = "http://127.0.0.1:8081/jwks",
            routeIDs: [String] = [], links: [String] = []
        ) throws(DemoConfigurationError) -> DemoConfiguration {
            try DemoConfiguration.make(
                all: all, service: service, listen: listen, host: "127.0.0.1", basePort: basePort, jwksURL: jwks,
                issuer: "portcullis-gateway", routeIDs: routeIDs, links: links, portsFile: nil,
                keyRefreshInterval: .seconds(10), keyMaxAge: .seconds(300))
        }
        let all = try make(all: true, basePort: 9101, routeIDs: ["ops-console=console"])
        #expect(all.listeners.map(\.port) == [9101, 9102, 9103, 9104])
        #expect(all.listeners.map(\.service) == [.shipments, .fleet, .billing, .opsConsole])
        #expect(all.routeID(.opsConsole) == "console")
        #expect(all.routeID(.billing) == "billing")
        #expect(try make(all: true).listeners.allSatisfy { $0.port == 0 })

        let one = try make(service: "fleet", listen: "[::1]:0")
        #expect(one.listeners == [DemoConfiguration.Listener(service: .fleet, host: "::1", port: 0)])

        #expect(throws: DemoConfigurationError.unknownService("trucks")) { try make(service: "trucks", listen: "127.0.0.1:1") }
        #expect(throws: DemoConfigurationError.invalidAddress("localhost")) { try make(service: "fleet", listen: "localhost") }
        #expect(throws: DemoConfigurationError.self) { try make(all: true, service: "fleet") }
        #expect(throws: DemoConfigurationError.self) { try make() }
        #expect(throws: DemoConfigurationError.self) { try make(service: "fleet") }
        #expect(throws: DemoConfigurationError.invalidPort("65533")) { try make(all: true, basePort: 65533) }
        #expect(throws: DemoConfigurationError.invalidURL("file:///etc/jwks")) { try make(all: true, jwks: "file:///etc/jwks") }
        #expect(throws: DemoConfigurationError.invalidURL("javascript:alert(1)")) { try make(all: true, links: ["x=javascript:alert(1)"]) }
        #expect(throws: DemoConfigurationError.malformedPair(option: "--route-id", value: "billing")) {
            try make(all: true, routeIDs: ["billing"])
        }
    }
}
