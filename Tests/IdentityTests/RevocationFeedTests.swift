import Foundation
import Identity
import Logging
import Testing
import Tokens

/// The NOTIFY-driven feed other processes (gateways) subscribe to.
@Suite struct RevocationFeedTests {
    static let quietLogger: Logger = {
        var logger = Logger(label: "feed-test")
        logger.logLevel = .critical
        return logger
    }()

    /// A second subscriber (as another gateway process would run) sees a revocation within one
    /// second of the change, and the propagation time is printed.
    @Test func aRevocationReachesASubscribedFeedWithinOneSecond() async throws {
        try await IdentityHarness.run { harness in
            let logger = Self.quietLogger
            let subscriber = RevocationFeed(
                store: harness.store, openConnection: { try await harness.database.openDedicatedConnection(logger: logger) },
                logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await subscriber.run() }
                try await IdentityHarness.waitUntil("the subscriber to synchronise") { subscriber.snapshot.synchronized }
                try await harness.makeUser("alice")
                let session = try #require(try await harness.login("alice", "correct horse battery staple").string("session_id"))
                #expect(!subscriber.snapshot.isSessionRevoked(session))
                let start = ContinuousClock.now
                _ = try await harness.service.endSession(UUID(uuidString: session)!, reason: "test")
                try await IdentityHarness.waitUntil("the revocation", timeout: .seconds(1)) { subscriber.snapshot.isSessionRevoked(session) }
                print("revocation propagated to a subscribed feed in \(ContinuousClock.now - start)")
                group.cancelAll()
            }
        }
    }

    /// Revocations made while a subscriber was not listening are in its state after it connects:
    /// the full resync closes the gap a missed NOTIFY would leave.
    @Test func aLateSubscriberResyncsEverythingStillInForce() async throws {
        try await IdentityHarness.run { harness in
            try await harness.makeUser("bob")
            let session = try #require(try await harness.login("bob", "correct horse battery staple").string("session_id"))
            _ = try await harness.service.endSession(UUID(uuidString: session)!, reason: "test")
            _ = try await harness.store.createRole(name: "staff", description: "", parents: [])
            _ = try await harness.store.createRole(name: "dispatcher", description: "", parents: ["staff"])
            _ = try await harness.store.setStatus(login: "bob", .disabled, revocationLifetime: 3600)
            let logger = Self.quietLogger
            let late = RevocationFeed(
                store: harness.store, openConnection: { try await harness.database.openDedicatedConnection(logger: logger) },
                logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await late.run() }
                try await IdentityHarness.waitUntil("the late subscriber to synchronise") { late.snapshot.synchronized }
                let snapshot = late.snapshot
                #expect(snapshot.isSessionRevoked(session))
                #expect(snapshot.hierarchy.parents["dispatcher"] == ["staff"])
                let oldToken = Claims(
                    issuer: "portcullis", subject: "bob", audience: ["portcullis"], issuedAt: Date() - 60,
                    expiresAt: Date() + 540, tokenID: "t1", subjectKind: .user)
                let newToken = Claims(
                    issuer: "portcullis", subject: "bob", audience: ["portcullis"], issuedAt: Date() + 2,
                    expiresAt: Date() + 600, tokenID: "t2", subjectKind: .user)
                #expect(snapshot.isRevoked(oldToken))
                #expect(!snapshot.isRevoked(newToken))
                // Hierarchy changes arrive by NOTIFY too.
                _ = try await harness.store.createRole(name: "ops-admin", description: "", parents: ["staff"])
                try await IdentityHarness.waitUntil("the hierarchy change") { late.snapshot.hierarchy.parents["ops-admin"] == ["staff"] }
                group.cancelAll()
            }
        }
    }
}
