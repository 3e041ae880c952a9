import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import Tokens

@testable import LogisticsDemo

/// The demo upstreams against real keys: a key ring built with the Tokens module (as the identity
/// service builds its own), its JWKS served over HTTP by a small server, and assertions signed the
/// way the gateway signs them.
@Suite struct AssertionTests {
    @Test func validAssertionIsAcceptedAndTheCallerComesFromIt() async throws {
        try await DemoHarness.run(.shipments) { demo in
            let list = try await demo.request(.get, "/v1/shipments", token: demo.assertion(.get, "/v1/shipments"))
            #expect(list.status == .ok)
            let caller = try #require(list.json["caller"] as? [String: Any])
            #expect(caller["sub"] as? String == "dana")
            #expect(caller["roles"] as? [String] == ["dispatcher"])
            #expect((list.json["shipments"] as? [Any])?.count == 5)

            let mine = try await demo.request(.get, "/v1/shipments?driver=drew", token: demo.assertion(.get, "/v1/shipments"))
            #expect((mine.json["shipments"] as? [[String: Any]])?.map { $0["id"] as? String } == ["SHP-1001", "SHP-1003"])

            let create = try demo.assertion(.post, "/v1/shipments", requestID: "req-create-1")
            let created = try await demo.request(
                .post, "/v1/shipments", token: create,
                body: #"{"customer":"Harbor Pharma","origin":"Antwerp, BE","destination":"Basel, CH","weight_kg":900}"#)
            #expect(created.status == .created)
            #expect(created.headers[.location] == "/v1/shipments/SHP-1006")
            let stamp = try #require(created.json["created"] as? [String: Any])
            #expect(stamp["by"] as? String == "dana")
            #expect(stamp["request_id"] as? String == "req-create-1")
            #expect(created.json["status"] as? String == "planned")

            let patched = try await demo.request(
                .patch, "/v1/shipments/SHP-1006", token: demo.assertion(.patch, "/v1/shipments/SHP-1006"),
                body: #"{"status":"picked_up","driver":"kim"}"#)
            #expect(patched.status == .ok)
            #expect(patched.json["driver"] as? String == "kim")
            #expect((patched.json["updated"] as? [String: Any])?["by"] as? String == "dana")
        }
    }

    @Test func requestsWithoutAValidAssertionAreRefused() async throws {
        try await DemoHarness.run(.shipments) { demo in
            func refusal(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields) async throws -> String? {
                let reply = try await demo.request(method, path, headers: headers)
                #expect(reply.status == .unauthorized, "\(reply.json)")
                #expect(reply.json["message"] is String)
                return reply.json["error"] as? String
            }
            func with(_ token: String) -> HTTPFields { [AssertionMiddleware.header: token] }

            #expect(try await refusal(.get, "/v1/shipments", headers: [:]) == "missing_assertion")
            #expect(try await refusal(.get, "/no/such/path", headers: [:]) == "missing_assertion")

            let valid = try demo.assertion(.get, "/v1/shipments")
            let forged = String(valid.dropLast(4)) + (valid.hasSuffix("AAAA") ? "BBBB" : "AAAA")
            #expect(try await refusal(.get, "/v1/shipments", headers: with(forged)) == "invalid_assertion")

            let otherSignature = try demo.assertion(.get, "/v1/fleet").split(separator: ".")[2]
            let spliced = valid.split(separator: ".")[0...1].joined(separator: ".") + "." + otherSignature
            #expect(try await refusal(.get, "/v1/shipments", headers: with(spliced)) == "invalid_assertion")

            #expect(
                try await refusal(.get, "/v1/shipments", headers: with(try demo.assertion(.get, "/v1/shipments", audience: "fleet")))
                    == "invalid_assertion")
            #expect(
                try await refusal(.get, "/v1/shipments", headers: with(try demo.assertion(.get, "/v1/shipments", issuer: "portcullis")))
                    == "invalid_assertion")
            #expect(
                try await refusal(.get, "/v1/shipments", headers: with(try demo.assertion(.get, "/v1/shipments", issuedAgo: 200)))
                    == "invalid_assertion")

            // Minted for another request of the same route: another method, another path.
            #expect(
                try await refusal(.post, "/v1/shipments", headers: with(try demo.assertion(.get, "/v1/shipments")))
                    == "assertion_request_mismatch")
            #expect(
                try await refusal(.get, "/v1/shipments/SHP-1001", headers: with(try demo.assertion(.get, "/v1/shipments")))
                    == "assertion_request_mismatch")
            // No method/path claims at all (an access token, say, signed by the same keys).
            #expect(try await refusal(.get, "/v1/shipments", headers: with(try demo.assertion(nil, nil))) == "assertion_request_mismatch")

            // Used once only.
            let once = try demo.assertion(.get, "/v1/shipments")
            #expect(try await demo.request(.get, "/v1/shipments", token: once).status == .ok)
            #expect(try await refusal(.get, "/v1/shipments", headers: with(once)) == "assertion_replayed")

            var two = HTTPFields()
            two.append(HTTPField(name: AssertionMiddleware.header, value: try demo.assertion(.get, "/v1/shipments")))
            two.append(HTTPField(name: AssertionMiddleware.header, value: try demo.assertion(.get, "/v1/shipments")))
            #expect(try await refusal(.get, "/v1/shipments", headers: two) == "duplicate_assertion")

            // A key the identity service never published: the JWKS is refetched once, then refused.
            let fetches = demo.jwks.fetches
            let stranger = try KeyRingFixture()
            #expect(
                try await refusal(.get, "/v1/shipments", headers: with(try demo.assertion(.get, "/v1/shipments", ring: stranger)))
                    == "unknown_key")
            #expect(demo.jwks.fetches == fetches + 1)
        }
    }

    @Test func aKeyPublishedAfterStartIsLearnedOnFirstUse() async throws {
        try await DemoHarness.run(.billing) { demo in
            #expect(try await demo.request(.get, "/v1/invoices", token: demo.assertion(.get, "/v1/invoices")).status == .ok)
            let next = try KeyRingFixture()
            demo.jwks.publish([demo.ring, next])
            let reply = try await demo.request(.get, "/v1/invoices", token: demo.assertion(.get, "/v1/invoices", ring: next))
            #expect(reply.status == .ok, "\(reply.json)")
        }
    }

    @Test func aKeyWithdrawnFromTheJWKSStopsVerifyingOnceTheCacheExpires() async throws {
        try await DemoHarness.run(.billing, keyMaxAge: .milliseconds(300)) { demo in
            #expect(try await demo.request(.get, "/v1/invoices", token: demo.assertion(.get, "/v1/invoices")).status == .ok)
            let next = try KeyRingFixture()
            demo.jwks.publish([next])
            try await Task.sleep(for: .milliseconds(400))
            let refused = try await demo.request(.get, "/v1/invoices", token: demo.assertion(.get, "/v1/invoices"))
            #expect(refused.json["error"] as? String == "unknown_key")
            #expect(try await demo.request(.get, "/v1/invoices", token: demo.assertion(.get, "/v1/invoices", ring: next)).status == .ok)
        }
    }

    @Test func concurrentRequestsShareOneFetchOfTheKeySet() async throws {
        let ring = try KeyRingFixture()
        let jwks = JWKSServer()
        jwks.publish([ring])
        try await jwks.application().test(.live) { client in
            let url = URL(string: "http://127.0.0.1:\(try #require(client.port))/.well-known/jwks.json")!
            let keySet = GatewayKeySet(settings: .init(url: url), logger: Logger(label: "test"))
            let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 { group.addTask { try await keySet.keys().byID.count } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(counts == Array(repeating: 1, count: 20))
            #expect(jwks.fetches == 1)
        }
    }

    @Test func withoutReachableKeysEveryRequestIsRefusedAsUnavailable() async throws {
        let ring = try KeyRingFixture()
        let settings = GatewayKeySet.Settings(url: URL(string: "http://127.0.0.1:9/.well-known/jwks.json")!, unknownKeyRefreshInterval: .zero)
        let app = DemoHarness.application(.shipments, keySet: GatewayKeySet(settings: settings, logger: Logger(label: "test")))
        try await app.test(.router) { client in
            // Concurrent requests wait for one fetch and all report its failure.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        let token = try ring.sign(DemoHarness.claims(.get, "/v1/shipments", audience: "shipments"))
                        try await client.execute(uri: "/v1/shipments", method: .get, headers: [AssertionMiddleware.header: token]) { response in
                            #expect(response.status == .serviceUnavailable)
                            #expect(response.headers[.retryAfter] == "5")
                            let body = String(buffer: response.body)
                            #expect(body.contains("keys_unavailable"))
                            #expect(body.contains("Connection refused"), "\(body)")
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
