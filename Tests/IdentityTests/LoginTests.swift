import AccessModel
import Foundation
import Identity
import Testing
import Tokens

/// People logging in through `POST /v1/login`, as a browser or CLI client would.
@Suite struct LoginTests {
    @Test func aCorrectPasswordOpensASessionWhoseTokenCarriesRolesAndSession() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("alice", roles: ["dispatcher"])
            let reply = try await harness.login("Alice", "correct horse battery staple")
            #expect(reply.status == 200)
            #expect(reply.headers[.cacheControl] == "no-store")
            let token = try #require(reply.string("access_token"))
            let claims = try PasetoPublicVerifier(keys: harness.parts.keys.verificationKeys, policy: harness.service.settings.claimsPolicyForTests)
                .verify(token, now: Date())
            #expect(claims.subject == "alice")
            #expect(claims.subjectKind == .user)
            #expect(claims.roles == ["dispatcher"])
            #expect(claims.sessionID == reply.string("session_id"))
            #expect(claims.authMethods == ["pwd"])
            #expect(claims.expiresAt.timeIntervalSince(claims.issuedAt) == 600)
            #expect(reply.string("refresh_token")?.hasPrefix("pcr_") == true)
        }
    }

    @Test func unknownLoginAndWrongPasswordGetTheSameAnswer() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("bob")
            let wrong = try await harness.login("bob", "not the password at all")
            let unknown = try await harness.login("nobody", "not the password at all")
            let malformed = try await harness.login("no such login with spaces", "x")
            for reply in [wrong, unknown, malformed] {
                #expect(reply.status == 401)
                #expect(reply.text == #"{"error":"invalid_credentials","message":"invalid credentials"}"#)
            }
            let failures = try await harness.auditEvents(action: "login").filter { $0.outcome == "failure" }
            #expect(failures.count == 3)
        }
    }

    @Test func repeatedFailuresLockTheLoginUntilTheWindowPasses() async throws {
        try await IdentityHarness.run(configure: {
            $0.throttle.maxFailuresPerLogin = 3
            $0.throttle.window = 60
        }) { harness in
            try await harness.makeUser("dave")
            for _ in 0..<3 { #expect(try await harness.login("dave", "wrong password here").status == 401) }
            let locked = try await harness.login("dave", "correct horse battery staple")
            #expect(locked.status == 429)
            #expect(locked.string("error") == "throttled")
            let retryAfter = try #require(locked.headers[.retryAfter].flatMap(Int.init))
            #expect((1...60).contains(retryAfter))
            // An unknown login is throttled exactly the same way: the lockout reveals nothing.
            for _ in 0..<3 { _ = try await harness.login("ghost", "wrong password here") }
            #expect(try await harness.login("ghost", "wrong password here").status == 429)
            // The window slides: once the failures are older than it, the lockout lifts by itself.
            // (Time is moved by ageing the stored attempts rather than by sleeping a minute.)
            try await harness.database.client.query(
                "UPDATE identity_login_attempts SET attempted_at = attempted_at - interval '61 seconds' WHERE login = 'dave'")
            #expect(try await harness.login("dave", "correct horse battery staple").status == 200)
            // Success resets the count.
            #expect(try await harness.login("dave", "wrong password here").status == 401)
            #expect(try await harness.login("dave", "correct horse battery staple").status == 200)
        }
    }

    @Test func anOperatorCanLiftALockout() async throws {
        try await IdentityHarness.run(configure: { $0.throttle.maxFailuresPerLogin = 2 }) { harness in
            try await harness.makeUser("erin")
            for _ in 0..<2 { _ = try await harness.login("erin", "wrong password here") }
            #expect(try await harness.login("erin", "correct horse battery staple").status == 429)
            try await harness.store.clearFailedAttempts(login: "erin")
            #expect(try await harness.login("erin", "correct horse battery staple").status == 200)
        }
    }

    @Test func failuresFromOneAddressAreLimitedAcrossLogins() async throws {
        try await IdentityHarness.run(configure: { $0.throttle.maxFailuresPerAddress = 4 }) { harness in
            for n in 0..<4 {
                let reply = try await harness.login("spray\(n)", "Winter2026!")
                #expect(reply.status == 401)
            }
            let refused = try await harness.login("spray-next", "Winter2026!")
            #expect(refused.status == 429)
        }
    }

    /// Ten guesses at once against a limit of five: exactly five are evaluated and the rest are
    /// refused (attempts in flight count, so concurrency cannot buy extra guesses); correct logins
    /// at once each get their own valid session.
    @Test func concurrentLoginsOfOneAccountStayConsistent() async throws {
        try await IdentityHarness.run(configure: { $0.throttle.maxFailuresPerLogin = 5 }) { harness in
            try await harness.makeUser("frank")
            let guesses = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<10 { group.addTask { try await harness.login("frank", "wrong guess \(n)").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(guesses.filter { $0 == 401 }.count == 5)
            #expect(guesses.filter { $0 == 429 }.count == 5)

            try await harness.store.clearFailedAttempts(login: "frank")
            let sessions = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<5 { group.addTask { try await harness.login("frank", "correct horse battery staple").string("session_id") } }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(sessions.compactMap { $0 }.count == 5)
            #expect(Set(sessions.compactMap { $0 }).count == 5)
            let open = try await harness.store.listSessions(login: "frank", after: nil, limit: 100)
            #expect(open.items.count == 5)
        }
    }

    @Test func aDisabledUserCannotLogInOrRefresh() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("gina")
            let session = try await harness.login("gina", "correct horse battery staple")
            let refresh = try #require(session.string("refresh_token"))
            _ = try await harness.store.setStatus(login: "gina", .disabled, revocationLifetime: 3600)
            #expect(try await harness.login("gina", "correct horse battery staple").status == 401)
            let refreshed = try await harness.token(form: "grant_type=refresh_token&refresh_token=\(refresh)")
            #expect(refreshed.status == 400)
            #expect(refreshed.string("error") == "invalid_grant")
            // And its open session was revoked for every gateway.
            let sessionID = try #require(session.string("session_id"))
            try await IdentityHarness.waitUntil("the session revocation") { harness.parts.feed.snapshot.isSessionRevoked(sessionID) }
        }
    }

    /// A password reset ends what the old password opened (issue 20, item 4): the session and
    /// its refresh chain, and the access token, on every gateway; the new password signs in.
    @Test func aPasswordChangeEndsSessionsAndTokens() async throws {
        try await IdentityHarness.run { harness in
            let admin = try await harness.adminToken()
            try await harness.makeUser("ivy")
            let session = try await harness.login("ivy", "correct horse battery staple")
            let refresh = try #require(session.string("refresh_token"))
            let access = try #require(session.string("access_token"))
            let changed = try await harness.send(
                .patch, "/v1/admin/users/ivy", body: harness.json(["password": "a brand new passphrase 2026"]), bearer: admin)
            #expect(changed.status == 200)
            #expect(try await harness.token(form: "grant_type=refresh_token&refresh_token=\(refresh)").status == 400)
            let sessionID = try #require(session.string("session_id"))
            let claims = try PasetoPublicVerifier(keys: harness.parts.keys.verificationKeys, policy: harness.service.settings.claimsPolicyForTests)
                .verify(access, now: Date())
            try await IdentityHarness.waitUntil("the revocations") {
                harness.parts.feed.snapshot.isSessionRevoked(sessionID) && harness.parts.feed.snapshot.isRevoked(claims)
            }
            #expect(try await harness.login("ivy", "correct horse battery staple").status == 401)
            #expect(try await harness.login("ivy", "a brand new passphrase 2026").status == 200)
        }
    }

    /// The gateways report the sessions their requests carried: each one's "last seen" moves;
    /// an ended session's does not.
    @Test func sessionsSeenByTheGatewaysMoveTheirLastSeen() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("kim")
            let first = try await harness.login("kim", "correct horse battery staple").string("session_id")
            let second = try await harness.login("kim", "correct horse battery staple").string("session_id")
            let open = try #require(first.flatMap(UUID.init(uuidString:)))
            let ended = try #require(second.flatMap(UUID.init(uuidString:)))
            _ = try await harness.store.revokeSession(id: ended, reason: "test")
            let before = try #require(try await harness.store.session(id: open)).lastSeenAt
            let endedBefore = try #require(try await harness.store.session(id: ended)).lastSeenAt
            try await Task.sleep(for: .milliseconds(20))
            try await harness.store.touchSessions([open, ended])
            #expect(try #require(try await harness.store.session(id: open)).lastSeenAt > before)
            #expect(try #require(try await harness.store.session(id: ended)).lastSeenAt == endedBefore)
        }
    }

    /// Every gateway's directory follows a user's roles, groups and status as they change.
    @Test func theDirectoryFollowsMembershipsAndStatus() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("jo", roles: ["dispatcher"])
            try await IdentityHarness.waitUntil("jo in the directory") { harness.parts.feed.snapshot.accounts["jo"]?.roles == ["dispatcher"] }
            _ = try await harness.store.createGroup(name: "suspended", description: "refused everywhere")
            _ = try await harness.store.setUserMembership(login: "jo", .role, name: "dispatcher", granted: false)
            _ = try await harness.store.setUserMembership(login: "jo", .group, name: "suspended", granted: true)
            try await IdentityHarness.waitUntil("the membership changes") {
                harness.parts.feed.snapshot.accounts["jo"] == AccountState(isActive: true, roles: [], groups: ["suspended"])
            }
            _ = try await harness.store.setStatus(login: "jo", .disabled, revocationLifetime: 3600)
            try await IdentityHarness.waitUntil("the status change") { harness.parts.feed.snapshot.accounts["jo"]?.isActive == false }
        }
    }

    @Test func logoutEndsTheSession() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("hank")
            let session = try await harness.login("hank", "correct horse battery staple")
            let refresh = try #require(session.string("refresh_token"))
            let access = try #require(session.string("access_token"))
            #expect(try await harness.send(.post, "/v1/logout", bearer: access).status == 204)
            #expect(try await harness.token(form: "grant_type=refresh_token&refresh_token=\(refresh)").status == 400)
            #expect(try await harness.send(.post, "/v1/mfa/totp", bearer: access).status == 401)
        }
    }
}

extension IdentitySettings {
    /// The policy the gateway applies to this service's access tokens.
    var claimsPolicyForTests: ClaimsPolicy { ClaimsPolicy(issuers: [issuer], audiences: audience) }
}
