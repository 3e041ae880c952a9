import Foundation
import XCTest

@testable import Tokens

final class VerifiedTokenCacheTests: XCTestCase {
    private let key = try! Ed25519SecretKey.generate()
    private var verifier: PasetoPublicVerifier { PasetoPublicVerifier(keys: VerificationKeys([key.publicKey]), policy: samplePolicy) }

    func testSecondSightIsAHitWithoutVerification() throws {
        let cache = VerifiedTokenCache()
        let token = TokenSigner(key: key).paseto(sampleClaims())
        var verifications = 0
        let verify: (String) throws(TokenError) -> Claims = { token throws(TokenError) in
            verifications += 1
            return try self.verifier.verify(token, now: testNow)
        }
        XCTAssertEqual(try cache.verified(token, now: testNow, verify: verify), sampleClaims())
        XCTAssertEqual(try cache.verified(token, now: testNow.addingTimeInterval(10), verify: verify), sampleClaims())
        XCTAssertEqual(verifications, 1)
        // Failures are never cached.
        let bad = String(token.dropLast(2)) + "AA"
        XCTAssertThrowsError(try cache.verified(bad, now: testNow, verify: verify))
        XCTAssertThrowsError(try cache.verified(bad, now: testNow, verify: verify))
        XCTAssertEqual(verifications, 3)
    }

    func testEntriesNeverOutliveExpiry() {
        let cache = VerifiedTokenCache()
        let claims = sampleClaims(lifetime: 60)
        cache.insert("t", claims: claims, ticket: cache.ticket(), now: testNow)
        XCTAssertEqual(cache.lookup("t", now: testNow.addingTimeInterval(59)), claims)
        XCTAssertNil(cache.lookup("t", now: testNow.addingTimeInterval(60)))
        cache.insert("expired", claims: claims, ticket: cache.ticket(), now: testNow.addingTimeInterval(61))
        XCTAssertNil(cache.lookup("expired", now: testNow))
    }

    func testRevocationBySessionAndToken() {
        let cache = VerifiedTokenCache()
        let a = sampleClaims(sessionID: "s1", tokenID: "a")
        let b = sampleClaims(sessionID: "s1", tokenID: "b")
        let c = sampleClaims(sessionID: "s2", tokenID: "c")
        for (token, claims) in [("A", a), ("B", b), ("C", c)] { cache.insert(token, claims: claims, ticket: cache.ticket(), now: testNow) }
        cache.invalidate(sessionID: "s1", now: testNow)
        XCTAssertNil(cache.lookup("A", now: testNow))
        XCTAssertNil(cache.lookup("B", now: testNow))
        XCTAssertEqual(cache.lookup("C", now: testNow), c)
        // A revoked session cannot be re-cached while remembered.
        cache.insert("A", claims: a, ticket: cache.ticket(), now: testNow)
        XCTAssertNil(cache.lookup("A", now: testNow))
        cache.invalidate(tokenID: "c", now: testNow)
        XCTAssertNil(cache.lookup("C", now: testNow))
    }

    func testVerificationInFlightDuringRevocationIsNotCached() {
        let cache = VerifiedTokenCache()
        let ticket = cache.ticket()
        cache.invalidate(tokenID: "unrelated", now: testNow)
        cache.insert("T", claims: sampleClaims(), ticket: ticket, now: testNow)
        XCTAssertNil(cache.lookup("T", now: testNow), "a revocation raced with verification: fail closed")
    }

    func testCapacityIsBounded() {
        let cache = VerifiedTokenCache(capacity: 64, shards: 4)
        for index in 0..<1000 {
            cache.insert("token-\(index)", claims: sampleClaims(), ticket: cache.ticket(), now: testNow)
        }
        XCTAssertLessThanOrEqual(cache.count, 64)
        XCTAssertGreaterThan(cache.count, 32)
    }

    func testConcurrentReadersAndWriters() async {
        let cache = VerifiedTokenCache(capacity: 10_000)
        let claims = sampleClaims()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in 0..<2000 {
                        let token = "w\(worker)-\(index % 200)"
                        if cache.lookup(token, now: testNow) == nil {
                            cache.insert(token, claims: claims, ticket: cache.ticket(), now: testNow)
                        }
                        if index % 500 == 0 { cache.invalidate(tokenID: "none", now: testNow) }
                    }
                }
            }
        }
        XCTAssertLessThanOrEqual(cache.count, 1600)
    }
}
