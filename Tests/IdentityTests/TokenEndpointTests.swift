import Foundation
import HTTPTypes
import Identity
import Testing
import Tokens

/// `POST /oauth2/token` (RFC 6749) and the published keys.
@Suite struct TokenEndpointTests {
    @Test func clientCredentialsWorkWithTwoOverlappingSecrets() async throws {
        try await IdentityHarness.run { harness in
            _ = try await harness.store.createRole(name: "shipments-reader", description: "", parents: [])
            _ = try await harness.store.createService(
                name: "billing", owner: "finance", spiffeID: "spiffe://logistics.internal/billing",
                roles: ["shipments-reader"])
            let (old, _) = try await harness.service.newServiceSecret(service: "billing", lifetime: nil, revokeOthers: false)
            let (new, _) = try await harness.service.newServiceSecret(service: "billing", lifetime: nil, revokeOthers: false)
            for secret in [old, new] {
                let reply = try await harness.token(form: "grant_type=client_credentials&client_id=billing&client_secret=\(secret)")
                #expect(reply.status == 200)
                #expect(reply.string("token_type") == "Bearer")
                #expect(reply.json["expires_in"] as? Int == 600)
                #expect(reply.headers[.cacheControl] == "no-store")
                let claims = try PasetoPublicVerifier(
                    keys: harness.parts.keys.verificationKeys, policy: harness.service.settings.claimsPolicyForTests
                )
                .verify(try #require(reply.string("access_token")), now: Date())
                #expect(claims.subject == "billing")
                #expect(claims.subjectKind == .service)
                #expect(claims.roles == ["shipments-reader"])
            }
            // HTTP Basic (RFC 6749 §2.3.1) works too.
            let basic = Data("billing:\(new)".utf8).base64EncodedString()
            #expect(try await harness.token(form: "grant_type=client_credentials", headers: [.authorization: "Basic \(basic)"]).status == 200)
            // Rotating with revoke_others leaves only the newest secret working.
            let (newest, _) = try await harness.service.newServiceSecret(service: "billing", lifetime: nil, revokeOthers: true)
            for secret in [old, new] {
                let refused = try await harness.token(form: "grant_type=client_credentials&client_id=billing&client_secret=\(secret)")
                #expect(refused.status == 401)
                #expect(refused.string("error") == "invalid_client")
            }
            #expect(try await harness.token(form: "grant_type=client_credentials&client_id=billing&client_secret=\(newest)").status == 200)
            // A secret only works for its own client id.
            _ = try await harness.store.createService(name: "fleet-sync", owner: "", spiffeID: nil, roles: [])
            #expect(try await harness.token(form: "grant_type=client_credentials&client_id=fleet-sync&client_secret=\(newest)").status == 401)
        }
    }

    /// Through the gateway over mTLS (its assertion names the client certificate) a token is bound
    /// to that certificate (RFC 8705); the identity API then accepts it only with the gateway's
    /// assertion naming the same certificate.
    @Test func aTokenObtainedWithAClientCertificateIsBoundToIt() async throws {
        try await IdentityHarness.run { harness in
            _ = try await harness.store.createService(name: "billing", owner: "", spiffeID: "spiffe://logistics.internal/billing", roles: [])
            _ = try await harness.store.createService(name: "fleet-sync", owner: "", spiffeID: "spiffe://logistics.internal/fleet-sync", roles: [])
            let (secret, _) = try await harness.service.newServiceSecret(service: "billing", lifetime: nil, revokeOthers: false)
            let form = "grant_type=client_credentials&client_id=billing&client_secret=\(secret)"
            let certificate = Base64URL.encode([UInt8](repeating: 7, count: 32))
            let other = Base64URL.encode([UInt8](repeating: 8, count: 32))
            func assertion(
                _ subject: String = "billing", methods: [String] = ["mtls"], path: String = "/oauth2/token",
                thumbprint: String? = certificate
            ) throws -> HTTPFields {
                let now = Date()
                let claims = Claims(
                    issuer: "portcullis-gateway", subject: subject, audience: ["identity"], issuedAt: now, expiresAt: now + 60,
                    tokenID: UUID().uuidString, subjectKind: .service, authMethods: methods, httpMethod: "POST", httpPath: path,
                    certificateThumbprint: thumbprint)
                return [HTTPField.Name("X-Portcullis-Assertion")!: try harness.parts.keys.signer().jwt(claims)]
            }
            func claims(_ reply: IdentityHarness.Reply) throws -> Claims {
                try PasetoPublicVerifier(keys: harness.parts.keys.verificationKeys, policy: harness.service.settings.claimsPolicyForTests)
                    .verify(try #require(reply.string("access_token"), "\(reply.status) \(reply.text)"), now: Date())
            }

            let issued = try await harness.token(form: form, headers: try assertion())
            let bound = try #require(issued.string("access_token"))
            #expect(try claims(issued).certificateThumbprint == certificate)
            // Without a certificate at the gateway (or without the gateway): unbound.
            #expect(
                try claims(try await harness.token(form: form, headers: try assertion(methods: ["token"], thumbprint: nil))).certificateThumbprint
                    == nil)
            #expect(try claims(try await harness.token(form: form)).certificateThumbprint == nil)
            // Another service's certificate, or an assertion minted for another request, gets nothing.
            let crossed = try await harness.token(form: form, headers: try assertion("fleet-sync"))
            #expect(crossed.status == 401 && crossed.string("error") == "invalid_client", "\(crossed.text)")
            let misdirected = try await harness.token(form: form, headers: try assertion(path: "/v1/certs/sign"))
            #expect(misdirected.status == 400 && misdirected.string("error") == "invalid_request", "\(misdirected.text)")

            // The identity API itself: the bound token alone, or with another certificate, is refused.
            #expect(try await harness.send(.post, "/v1/logout", bearer: bound).status == 401)
            let elsewhere = try await harness.send(
                .post, "/v1/logout", bearer: bound,
                headers: try assertion(methods: ["token"], path: "/v1/logout", thumbprint: other))
            #expect(elsewhere.status == 401)
            let confirmed = try await harness.send(
                .post, "/v1/logout", bearer: bound,
                headers: try assertion(methods: ["token"], path: "/v1/logout"))
            #expect(confirmed.status == 204, "\(confirmed.text)")
        }
    }

    @Test func expiredSecretsAndDisabledServicesAreRefused() async throws {
        try await IdentityHarness.run { harness in
            _ = try await harness.store.createService(name: "fleet-sync", owner: "", spiffeID: nil, roles: [])
            let (shortLived, _) = try await harness.service.newServiceSecret(service: "fleet-sync", lifetime: 1, revokeOthers: false)
            let (longLived, _) = try await harness.service.newServiceSecret(service: "fleet-sync", lifetime: nil, revokeOthers: false)
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await harness.token(form: "grant_type=client_credentials&client_id=fleet-sync&client_secret=\(shortLived)").status == 401)
            let token = try #require(
                try await harness.token(
                    form: "grant_type=client_credentials&client_id=fleet-sync&client_secret=\(longLived)"
                ).string("access_token"))
            _ = try await harness.store.setServiceStatus(name: "fleet-sync", .disabled, revocationLifetime: 3600)
            #expect(try await harness.token(form: "grant_type=client_credentials&client_id=fleet-sync&client_secret=\(longLived)").status == 401)
            // Tokens issued before the account was disabled are revoked for every gateway.
            let claims = try PasetoPublicVerifier(keys: harness.parts.keys.verificationKeys, policy: harness.service.settings.claimsPolicyForTests)
                .verify(token, now: Date())
            try await IdentityHarness.waitUntil("the subject revocation") { harness.parts.feed.snapshot.isRevoked(claims) }
        }
    }

    @Test func refreshRotatesAndReuseRevokesTheWholeSession() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("alice")
            let session = try await harness.login("alice", "correct horse battery staple")
            let first = try #require(session.string("refresh_token"))
            let rotated = try await harness.token(form: "grant_type=refresh_token&refresh_token=\(first)")
            #expect(rotated.status == 200)
            let second = try #require(rotated.string("refresh_token"))
            #expect(second != first)
            let claims = try PasetoPublicVerifier(keys: harness.parts.keys.verificationKeys, policy: harness.service.settings.claimsPolicyForTests)
                .verify(try #require(rotated.string("access_token")), now: Date())
            #expect(claims.sessionID == session.string("session_id"))
            // Someone replays the first token: refused, and the legitimate successor dies with the session.
            let reuse = try await harness.token(form: "grant_type=refresh_token&refresh_token=\(first)")
            #expect(reuse.status == 400)
            #expect(reuse.string("error") == "invalid_grant")
            #expect(try await harness.token(form: "grant_type=refresh_token&refresh_token=\(second)").status == 400)
            let sessionID = try #require(session.string("session_id"))
            try await IdentityHarness.waitUntil("the session revocation") { harness.parts.feed.snapshot.isSessionRevoked(sessionID) }
            #expect(try await harness.auditEvents(action: "token.refresh").contains { $0.details?.contains("reused") == true })
        }
    }

    /// Two uses of one refresh token at the same moment: exactly one can rotate it.
    @Test func concurrentUseOfOneRefreshTokenRotatesOnce() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("bob")
            let refresh = try #require(try await harness.login("bob", "correct horse battery staple").string("refresh_token"))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 { group.addTask { try await harness.token(form: "grant_type=refresh_token&refresh_token=\(refresh)").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1)
            #expect(statuses.filter { $0 == 400 }.count == 5)
        }
    }

    @Test func protocolErrorsFollowRFC6749() async throws {
        try await IdentityHarness.run { harness in
            let missing = try await harness.token(form: "client_id=x")
            #expect(missing.status == 400)
            #expect(missing.string("error") == "invalid_request")
            let unsupported = try await harness.token(form: "grant_type=password&username=a&password=b")
            #expect(unsupported.string("error") == "unsupported_grant_type")
            let duplicate = try await harness.token(form: "grant_type=client_credentials&grant_type=refresh_token")
            #expect(duplicate.status == 400)
            #expect(duplicate.string("error_description")?.contains("more than once") == true)
            let noClient = try await harness.token(form: "grant_type=client_credentials")
            #expect(noClient.status == 401)
            #expect(noClient.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            let json = try await harness.send(.post, "/oauth2/token", body: #"{"grant_type":"client_credentials"}"#)
            #expect(json.status == 400)
            #expect(json.string("error_description")?.contains("x-www-form-urlencoded") == true)
        }
    }

    @Test func publishedKeysVerifyTokensAndAreCacheable() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("alice")
            let token = try #require(try await harness.login("alice", "correct horse battery staple").string("access_token"))
            for path in ["/.well-known/jwks.json", "/.well-known/paserk.json"] {
                let reply = try await harness.send(.get, path)
                #expect(reply.status == 200)
                #expect(reply.headers[.cacheControl] == "public, max-age=300")
                let keys = try VerificationKeys(document: Data(reply.text.utf8))
                let claims = try PasetoPublicVerifier(keys: keys, policy: harness.service.settings.claimsPolicyForTests).verify(token, now: Date())
                #expect(claims.subject == "alice")
                let etag = try #require(reply.headers[.eTag])
                let cached = try await harness.send(.get, path, headers: [.ifNoneMatch: etag])
                #expect(cached.status == 304)
                #expect(cached.text.isEmpty)
            }
        }
    }
}
