import Foundation
import TestSupport
import Testing

/// Service tokens bound to the client certificate they were obtained with (RFC 8705), against
/// the running gateway: a stolen token is refused over any other connection, and `context.cert`
/// describes only the certificate that authenticated the principal.
@Suite(.serialized) struct CertificateBoundTokenTests {
    static let routes = """
            - id: billing
              hosts: [billing.localhost]
              upstream: UPSTREAM
            - id: identity
              hosts: [localhost]
              upstream: IDENTITY
              public: true
              pass_authorization: true
        """

    static var policies: [String: String] {
        [
            "identity-api.cedar": WorkloadEndToEndTests.policies["identity-api.cedar"] ?? "",
            "billing.cedar": #"""
            @id("billing-service-with-its-certificate")
            permit (principal == Service::"billing", action, resource == Route::"billing")
            when { context.cert.present };
            """#,
        ]
    }

    @Test func aTokenObtainedOverMTLSWorksOnlyWithItsCertificate() async throws {
        try await GatewayFixture.run(policies: Self.policies, routes: Self.routes) { gateway in
            let secret = try await gateway.serviceSecret("billing")
            _ = try await gateway.cli(["service", "add", "fleet-sync", "--spiffe-id", "spiffe://\(GatewayFixture.trustDomain)/fleet-sync"])
            _ = try await gateway.cli([
                "cert", "issue", "--spiffe", "spiffe://\(GatewayFixture.trustDomain)/fleet-sync",
                "--out", gateway.path("fleet-sync"), "--ca", gateway.certs,
            ])
            let billing = ["--cert", "\(gateway.certs)/billing.crt", "--key", "\(gateway.certs)/billing.key"]
            let fleet = ["--cert", gateway.path("fleet-sync") + ".crt", "--key", gateway.path("fleet-sync") + ".key"]
            let form = ["-d", "grant_type=client_credentials", "-d", "client_id=billing", "-d", "client_secret=\(secret)"]

            // Obtained through the gateway over mTLS: bound to billing's certificate.
            let issued = try gateway.curl("/oauth2/token", billing + form, host: "localhost")
            let bound = try #require(issued.json["access_token"] as? String, "\(issued.status) \(issued.body)")
            let claims = try Self.pysetoClaims(bound, gateway: gateway)
            let thumbprint = try Self.thumbprint("\(gateway.certs)/billing.crt")
            #expect((claims["cnf"] as? [String: String]) == ["x5t#S256": thumbprint], "\(claims)")

            let bearer = ["-H", "authorization: Bearer \(bound)"]
            #expect(try gateway.curl("/v1/invoices", bearer + billing, host: "billing.localhost").status == 200)
            // The upstream's assertion names the certificate too (PyJWT reads it).
            let headers = try #require(gateway.upstreamRequests().last?["headers"] as? [[String]])
            let assertion = try #require(headers.first { $0.first == "x-portcullis-assertion" }?.last)
            let forwarded = try gateway.pyjwtClaims(assertion, audience: "billing")
            #expect((forwarded["cnf"] as? [String: String]) == ["x5t#S256": thumbprint], "\(forwarded)")
            #expect(forwarded["amr"] as? [String] == ["token"])
            // Stolen: over another internal certificate, or none, it is refused and the refusal audited.
            let elsewhere = try gateway.curl("/v1/invoices", bearer + fleet, host: "billing.localhost")
            #expect(elsewhere.status == 401, "\(elsewhere.body)")
            let bare = try gateway.curl("/v1/invoices", bearer, host: "billing.localhost")
            #expect(bare.status == 401, "\(bare.body)")
            for (reply, reason) in [(elsewhere, "bound to a different client certificate"), (bare, "this connection presented none")] {
                guard let requestID = reply.json["request_id"] as? String else {
                    Issue.record("no request id in \(reply.status) \(reply.body)")
                    continue
                }
                var audit = ""
                for _ in 0..<100 where !audit.contains(reason) {
                    audit = try await gateway.cli(["audit", "search", "--request-id", requestID])
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(audit.contains(reason) && audit.contains(#""outcome":"deny""#), "\(audit)")
            }
            // The identity API accepts it only with the gateway's word for the certificate.
            let direct = try GatewayFixture.curl([
                "-X", "POST", "-H", "authorization: Bearer \(bound)",
                "http://127.0.0.1:\(gateway.identityPort)/v1/logout",
            ])
            #expect(direct.status == 401, "\(direct.body)")

            // Obtained without a certificate (straight from the identity listener): unbound, and
            // another service's certificate on the connection does not make it `context.cert`.
            let plain = try GatewayFixture.curl(form + ["http://127.0.0.1:\(gateway.identityPort)/oauth2/token"])
            let unbound = try #require(plain.json["access_token"] as? String, "\(plain.body)")
            #expect(try Self.pysetoClaims(unbound, gateway: gateway)["cnf"] == nil)
            let borrowed = try gateway.curl("/v1/invoices", ["-H", "authorization: Bearer \(unbound)"] + fleet, host: "billing.localhost")
            #expect(borrowed.status == 403, "context.cert described fleet-sync's certificate for billing's token: \(borrowed.body)")

            // A certificate cannot obtain a token for another service account.
            let crossed = try gateway.curl("/oauth2/token", fleet + form, host: "localhost")
            #expect(crossed.status == 401, "\(crossed.body)")
        }
    }

    /// The token's claims as pyseto reads them after verifying it against the published PASERKs.
    static func pysetoClaims(_ token: String, gateway: GatewayFixture) throws -> [String: Any] {
        let keys = try GatewayFixture.curl(["http://127.0.0.1:\(gateway.identityPort)/.well-known/paserk.json"])
        let script = """
            import json, sys, pyseto
            for entry in json.loads(sys.argv[2])["keys"]:
                try:
                    decoded = pyseto.decode(pyseto.Key.from_paserk(entry["paserk"]), sys.argv[1], deserializer=json)
                except Exception:
                    continue
                print(json.dumps(decoded.payload))
                break
            else:
                sys.exit("no published key verifies the token")
            """
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let python = ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"] ?? repo.appendingPathComponent(".venv/bin/python").path
        let (status, output) = try ChildProcess.run(URL(fileURLWithPath: python), ["-c", script, token, keys.body])
        // The JSON is the last line (stderr, which may carry warnings, is in the same output).
        let json = output.split(separator: "\n").last.map { Data($0.utf8) } ?? Data()
        guard status == 0, let claims = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else {
            throw PortcullisProcess.Failure(description: "pyseto (\(python)) exited \(status): \(output)")
        }
        return claims
    }

    /// RFC 8705 `x5t#S256` of a PEM certificate's leaf, computed by OpenSSL: unpadded base64url SHA-256 of the DER.
    static func thumbprint(_ file: String) throws -> String {
        let (status, output) = try ChildProcess.run(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c", "openssl x509 -in \"$1\" -outform DER | openssl dgst -sha256 -binary | basenc --base64url", "sh", file,
            ])
        guard status == 0 else { throw PortcullisProcess.Failure(description: "thumbprint of \(file): \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "=", with: "")
    }
}

extension GatewayFixture {
    /// Creates a service account bound to `spiffe://<trust domain>/<name>` and returns its client secret.
    func serviceSecret(_ name: String) async throws -> String {
        let output = try await cli(["service", "add", name, "--spiffe-id", "spiffe://\(GatewayFixture.trustDomain)/\(name)"])
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("client secret") }),
            let secret = line.split(separator: " ").last
        else { throw PortcullisProcess.Failure(description: "no client secret in \(output)") }
        return String(secret)
    }
}
