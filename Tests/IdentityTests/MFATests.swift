import Foundation
import Identity
import Testing
import Tokens

/// TOTP enrolment and two-step login, with recovery codes, over HTTP.
@Suite struct MFATests {
    /// Enrols alice and returns her TOTP generator, recovery codes and the time step whose code
    /// confirmed the enrolment (already used, so a later login must present another step's code).
    func enrol(_ harness: IdentityHarness) async throws -> (TOTP, [String], enrolmentStep: UInt64) {
        try await harness.makeUser("alice")
        let access = try #require(try await harness.login("alice", "correct horse battery staple").string("access_token"))
        let begin = try await harness.send(.post, "/v1/mfa/totp", bearer: access)
        #expect(begin.status == 200)
        let secret = try #require(begin.string("secret").flatMap(Base32.decode))
        #expect(begin.string("otpauth_uri")?.hasPrefix("otpauth://totp/Portcullis:alice?secret=") == true)
        let totp = TOTP(secret: secret)
        let wrong = try await harness.send(.post, "/v1/mfa/totp/confirm", body: harness.json(["code": "000000"]), bearer: access)
        #expect(wrong.status == 400)
        let enrolmentStep = TOTP.step(at: Date())
        let confirm = try await harness.send(
            .post, "/v1/mfa/totp/confirm", body: harness.json(["code": totp.code(forStep: enrolmentStep)]), bearer: access)
        #expect(confirm.status == 200)
        let codes = try #require(confirm.json["recovery_codes"] as? [String])
        #expect(codes.count == 10)
        return (totp, codes, enrolmentStep)
    }

    @Test func enrolledUsersNeedASecondFactorAndGetAnMFATime() async throws {
        try await IdentityHarness.run { harness in
            let (totp, _, enrolmentStep) = try await enrol(harness)
            let first = try await harness.login("alice", "correct horse battery staple")
            #expect(first.status == 401)
            #expect(first.string("error") == "mfa_required")
            let challenge = try #require(first.string("challenge"))
            #expect(try await harness.send(.post, "/v1/login/mfa", body: harness.json(["challenge": challenge, "totp": "123456"])).status == 401)
            // Enrolment used its step's code and codes are single-use, so replaying it fails and the
            // following step's code is accepted (the verification window is one step either side).
            // Steps are fixed here, not read from the clock again, so a 30-second boundary crossed
            // mid-test cannot change the outcome.
            let next = totp.code(forStep: enrolmentStep + 1)
            #expect(
                try await harness.send(
                    .post, "/v1/login/mfa", body: harness.json(["challenge": challenge, "totp": totp.code(forStep: enrolmentStep)])
                ).status == 401)
            let second = try await harness.send(.post, "/v1/login/mfa", body: harness.json(["challenge": challenge, "totp": next]))
            #expect(second.status == 200)
            let claims = try PasetoPublicVerifier(keys: harness.parts.keys.verificationKeys, policy: harness.service.settings.claimsPolicyForTests)
                .verify(try #require(second.string("access_token")), now: Date())
            #expect(claims.authMethods == ["pwd", "otp"])
            #expect(claims.mfaTime != nil)
            // The same code cannot be replayed, even in a one-step login.
            let replay = try await harness.login("alice", "correct horse battery staple", extra: ["totp": next])
            #expect(replay.status == 401)
            #expect(replay.string("error") == "invalid_credentials")
        }
    }

    @Test func aRecoveryCodeWorksOnce() async throws {
        try await IdentityHarness.run { harness in
            let (_, codes, _) = try await enrol(harness)
            let login = try await harness.login("alice", "correct horse battery staple", extra: ["recovery_code": codes[3].lowercased()])
            #expect(login.status == 200)
            let again = try await harness.login("alice", "correct horse battery staple", extra: ["recovery_code": codes[3]])
            #expect(again.status == 401)
        }
    }

    @Test func aChallengeAllowsOnlyAFewCodes() async throws {
        try await IdentityHarness.run(configure: { $0.mfaChallengeAttempts = 2 }) { harness in
            let (totp, _, _) = try await enrol(harness)
            let challenge = try #require(try await harness.login("alice", "correct horse battery staple").string("challenge"))
            for code in ["111111", "222222"] {
                #expect(try await harness.send(.post, "/v1/login/mfa", body: harness.json(["challenge": challenge, "totp": code])).status == 401)
            }
            let late = try await harness.send(.post, "/v1/login/mfa", body: harness.json(["challenge": challenge, "totp": totp.code(at: Date())]))
            #expect(late.status == 401)
        }
    }

    /// Wrong codes count against the account like wrong passwords, across challenges: fresh
    /// passwords open no further guesses, and once locked even the right code is refused until an
    /// administrator unlocks the account. Before, each right password opened
    /// `mfaChallengeAttempts` codes on top of the per-login limit.
    @Test func wrongCodesAcrossChallengesLockTheAccountUntilUnlocked() async throws {
        try await IdentityHarness.run(configure: {
            $0.throttle.maxFailuresPerLogin = 4
            $0.mfaChallengeAttempts = 3
        }) { harness in
            let (totp, _, enrolmentStep) = try await enrol(harness)
            let right = totp.code(forStep: enrolmentStep + 1)
            let wrongCodes = (1...2).map { String(format: "%06d", (Int(right)! + $0) % 1_000_000) }
            var open = ""
            for _ in 0..<2 {
                let first = try await harness.login("alice", "correct horse battery staple")
                #expect(first.string("error") == "mfa_required", "a fresh password challenge: \(first.json)")
                open = try #require(first.string("challenge"))
                for wrong in wrongCodes {
                    #expect(try await harness.send(.post, "/v1/login/mfa", body: harness.json(["challenge": open, "totp": wrong])).status == 401)
                }
            }
            // Four wrong codes in two challenges: locked. The second challenge has an attempt left,
            // and the right code is refused on it; a fresh password opens nothing either.
            let refused = try await harness.send(.post, "/v1/login/mfa", body: harness.json(["challenge": open, "totp": right]))
            #expect(refused.status == 429, "\(refused.json)")
            #expect(refused.string("error") == "throttled")
            let fresh = try await harness.login("alice", "correct horse battery staple")
            #expect(fresh.status == 429, "\(fresh.json)")
            #expect(try await harness.login("alice", "correct horse battery staple", extra: ["totp": right]).status == 429)

            #expect(try await harness.send(.post, "/v1/admin/users/alice/unlock", bearer: try await harness.adminToken()).status == 204)
            let challenge = try #require(try await harness.login("alice", "correct horse battery staple").string("challenge"))
            let accepted = try await harness.send(.post, "/v1/login/mfa", body: harness.json(["challenge": challenge, "totp": right]))
            #expect(accepted.status == 200, "\(accepted.json)")
        }
    }

    @Test func anAdministratorResetRemovesTheFactorAndEndsSessions() async throws {
        try await IdentityHarness.run { harness in
            let (_, codes, _) = try await enrol(harness)
            let session = try await harness.login("alice", "correct horse battery staple", extra: ["recovery_code": codes[0]])
            let sessionID = try #require(session.string("session_id"))
            let admin = try await harness.adminToken()
            #expect(try await harness.send(.post, "/v1/admin/users/alice/mfa-reset", bearer: admin).status == 200)
            try await IdentityHarness.waitUntil("the session revocation") { harness.parts.feed.snapshot.isSessionRevoked(sessionID) }
            #expect(try await harness.login("alice", "correct horse battery staple").status == 200)
        }
    }
}
