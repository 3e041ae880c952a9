import AsyncHTTPClient
import Foundation
import TestSupport
import Testing

@testable import Federation

/// The id_token checks against tokens made by PyJWT and `cryptography`
/// (`Tests/EndToEndTests/Fixtures/forged_tokens.py`), served with a discovery document and a JWKS
/// as a provider would: one valid token per accepted algorithm, and every forgery or mistake of
/// the issue's list refused with its reason.
@Suite(.serialized) struct IDTokenVerificationTests {
    static let python = ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"] ?? "/usr/bin/python3"

    /// Runs the forging provider for `body` and stops it after.
    static func withForger(_ body: (_ issuer: String) async throws -> Void) async throws {
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("forger-\(UUID().uuidString).port")
        defer { try? FileManager.default.removeItem(at: portFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("EndToEndTests/Fixtures/forged_tokens.py").path,
            "--port-file", portFile.path,
        ]
        (process.standardInput, process.standardOutput, process.standardError) = (FileHandle.nullDevice, FileHandle.nullDevice, FileHandle.nullDevice)
        try process.run()
        // SIGKILL: the child inherits the test runner's signal mask, in which SIGTERM may be blocked.
        defer { kill(process.processIdentifier, SIGKILL) }
        for _ in 0..<400 {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) {
                return try await body("http://127.0.0.1:\(port)")
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw PortcullisProcess.Failure(description: "forged_tokens.py did not start (needs pyjwt and cryptography)")
    }

    static func provider(_ issuer: String) -> OpenIDProvider {
        OpenIDProvider(
            settings: ProviderSettings(id: "corp", displayName: "Corp", issuer: URL(string: issuer)!, clientID: "portcullis", clientSecret: "-"),
            http: .shared)
    }

    static func token(_ issuer: String, _ kind: String) throws -> String {
        let reply = try Curl.get("\(issuer)/token/\(kind)?nonce=n-1&aud=portcullis")
        #expect(reply.status == 200, "\(kind): \(reply.body)")
        return reply.body
    }

    @Test func aValidTokenOfEachAcceptedAlgorithmPasses() async throws {
        try await Self.withForger { issuer in
            let provider = Self.provider(issuer)
            for kind in ["rs256", "es256", "eddsa"] {
                let claims = try await provider.verify(idToken: try Self.token(issuer, kind), nonce: "n-1", now: Date())
                #expect(claims.subject == "user-1" && claims.strings["preferred_username"] == "olga" && claims.lists["groups"] == ["a"], "\(kind)")
            }
        }
    }

    @Test func everyForgeryAndMistakeIsRefusedWithItsReason() async throws {
        let refused: [(kind: String, reason: String)] = [
            ("alg-none", "algorithm none is not accepted"),
            ("hs256-with-the-public-key", "algorithm HS256 is not accepted"),
            ("hs256-with-the-oct-key", "algorithm HS256 is not accepted"),
            ("es256-header-on-rsa-key", "algorithm ES256 does not match key rs (RS256)"),
            ("tampered", "signature"),
            ("unknown-key", "signature"),
            ("unknown-kid", "signature"),
            ("wrong-audience", "audience"),
            ("several-audiences-no-azp", "authorized party"),
            ("azp-other", "authorized party another-client"),
            ("wrong-issuer", "issuer https://evil.example"),
            ("expired", "expired"),
            ("issued-in-the-future", "issued at an unacceptable time"),
            ("issued-long-ago", "issued at an unacceptable time"),
            ("not-yet-valid", "not valid yet"),
            ("wrong-nonce", "nonce mismatch"),
            ("no-nonce", "nonce mismatch"),
            ("no-subject", "no subject"),
        ]
        try await Self.withForger { issuer in
            let provider = Self.provider(issuer)
            for (kind, reason) in refused {
                do {
                    _ = try await provider.verify(idToken: try Self.token(issuer, kind), nonce: "n-1", now: Date())
                    Issue.record("\(kind) was accepted")
                } catch {
                    guard let failure = error as? FederationError, case let .invalidIDToken(found) = failure else {
                        Issue.record("\(kind): \(error)")
                        continue
                    }
                    #expect(found.hasPrefix(reason), "\(kind): \(found)")
                }
            }
        }
    }

    /// A logout token passes once; its replay, an id_token (it has a nonce), and one without the
    /// event or a jti do not.
    @Test func aLogoutTokenIsAcceptedOnceAndOnlyAsALogoutToken() async throws {
        try await Self.withForger { issuer in
            let provider = Self.provider(issuer)
            let logout = try Self.token(issuer, "logout")
            #expect(try await provider.verify(logoutToken: logout, now: Date()) == "user-1")
            let refused: [(token: String, reason: String)] = [
                (logout, "logout token logout-1 was already used"),
                (try Self.token(issuer, "logout-with-nonce"), "a logout token carries no nonce"),
                (try Self.token(issuer, "rs256"), "not a logout token"),
                (try Self.token(issuer, "logout-without-event"), "not a logout token"),
                (try Self.token(issuer, "logout-without-jti"), "a logout token needs a jti"),
            ]
            for (token, reason) in refused {
                do {
                    _ = try await provider.verify(logoutToken: token, now: Date())
                    Issue.record("accepted; expected \(reason)")
                } catch {
                    #expect("\(error)".contains(reason), "\(error)")
                }
            }
        }
    }

    /// The discovery document must name the issuer it was fetched for.
    @Test func aDiscoveryDocumentOfAnotherIssuerIsRefused() async throws {
        try await Self.withForger { issuer in
            let provider = Self.provider(issuer.replacingOccurrences(of: "127.0.0.1", with: "localhost"))
            do {
                _ = try await provider.discovered()
                Issue.record("a discovery document naming another issuer was accepted")
            } catch {
                #expect("\(error)".contains("discovery names issuer"), "\(error)")
            }
        }
    }
}
