import Foundation
import XCTest

@testable import Tokens

final class CredentialTests: XCTestCase {
    /// libsodium's minimum Argon2id cost, so tests stay fast; the benchmark measures the defaults.
    private let cheap = PasswordPolicy(opsLimit: 1, memLimit: 8 * 1024, maxPasswordBytes: 64)

    func testArgon2idHashVerifyAndRehash() async throws {
        let pool = BlockingWorkPool(threads: 2)
        let hasher = PasswordHasher(policy: cheap, pool: pool)
        let encoded = try await hasher.hash("correct horse battery staple")
        XCTAssertTrue(encoded.hasPrefix("$argon2id$v=19$m=8,t=1,p=1$"), encoded)
        let right = try await hasher.verify("correct horse battery staple", against: encoded)
        let wrong = try await hasher.verify("correct horse battery stapl", against: encoded)
        XCTAssertTrue(right)
        XCTAssertFalse(wrong)
        let again = try await hasher.hash("correct horse battery staple")
        XCTAssertNotEqual(again, encoded, "random salt")
        XCTAssertFalse(try hasher.needsRehash(encoded))
        let stronger = PasswordHasher(policy: PasswordPolicy(opsLimit: 2, memLimit: 16 * 1024), pool: pool)
        XCTAssertTrue(try stronger.needsRehash(encoded))
        let oldStillVerifies = try await stronger.verify("correct horse battery staple", against: encoded)
        XCTAssertTrue(oldStillVerifies, "old hashes still verify")
    }

    func testPasswordLimitsAndMalformedHashes() async throws {
        let hasher = PasswordHasher(policy: cheap, pool: BlockingWorkPool(threads: 1))
        do {
            _ = try await hasher.hash(String(repeating: "x", count: 65))
            XCTFail("over-long password accepted")
        } catch { XCTAssertEqual(error, .tooLong(limit: 64)) }
        do {
            _ = try await hasher.hash("")
            XCTFail("empty password accepted")
        } catch { XCTAssertEqual(error, .empty) }
        do {
            _ = try await hasher.verify("pw", against: "$2b$10$bcrypt-is-not-accepted")
            XCTFail("non-argon2id hash accepted")
        } catch { XCTAssertEqual(error, .malformedHash) }
    }

    func testHashingRunsOffTheCallerAndInParallel() async throws {
        let hasher = PasswordHasher(policy: cheap, pool: BlockingWorkPool(threads: 2))
        let hashes = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<8 { group.addTask { try await hasher.hash("password-\(index)") } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        XCTAssertEqual(Set(hashes).count, 8)
    }

    func testPoolShedsLoadWhenQueueIsFull() async throws {
        let pool = BlockingWorkPool(threads: 1, maxQueued: 1)
        let gate = DispatchSemaphore(value: 0)
        async let first: Void = pool.run { gate.wait() }
        try await Task.sleep(for: .milliseconds(100))
        async let second: Void = pool.run {}
        try await Task.sleep(for: .milliseconds(100))
        do {
            try await pool.run {}
            XCTFail("queue bound not enforced")
        } catch {}
        gate.signal()
        try await first
        try await second
    }

    func testTOTPWindowAndReplay() {
        let totp = TOTP(secret: TOTP.generateSecret())
        let now = testNow
        let step = TOTP.step(at: now)
        XCTAssertEqual(totp.verify(totp.code(at: now), at: now), step)
        XCTAssertEqual(totp.verify(totp.code(forStep: step - 1), at: now), step - 1, "one step of drift behind")
        XCTAssertEqual(totp.verify(totp.code(forStep: step + 1), at: now), step + 1, "one step of drift ahead")
        XCTAssertNil(totp.verify(totp.code(forStep: step - 2), at: now))
        XCTAssertNil(totp.verify(totp.code(forStep: step + 2), at: now))
        // Replay: once step is used, the same code (and older ones) are refused.
        XCTAssertNil(totp.verify(totp.code(at: now), at: now, lastUsedStep: step))
        XCTAssertNil(totp.verify(totp.code(forStep: step - 1), at: now, lastUsedStep: step))
        XCTAssertEqual(totp.verify(totp.code(forStep: step + 1), at: now, lastUsedStep: step), step + 1)
        XCTAssertNil(totp.verify("12345", at: now))
        XCTAssertNil(totp.verify("12345a", at: now))
    }

    func testOtpauthURIAndBase32() throws {
        let secret = Array("12345678901234567890".utf8)
        XCTAssertEqual(Base32.encode(secret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")  // RFC 4648 alphabet
        XCTAssertEqual(Base32.encode(Array("foobar".utf8)), "MZXW6YTBOI")  // RFC 4648 §10 (unpadded)
        XCTAssertEqual(Base32.decode("mzxw 6ytb-oi======"), Array("foobar".utf8))
        XCTAssertNil(Base32.decode("MZXW1"))
        let uri = TOTP(secret: secret).provisioningURI(issuer: "Portcullis Corp", account: "alice@example.com")
        XCTAssertEqual(
            uri,
            "otpauth://totp/Portcullis%20Corp:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                + "&issuer=Portcullis%20Corp&algorithm=SHA1&digits=6&period=30")
    }

    func testRecoveryCodesAreSingleMatchAndKeyed() throws {
        let codes = try RecoveryCodes(pepper: Sodium.randomBytes(32))
        let issued = codes.generate()
        XCTAssertEqual(issued.count, 10)
        XCTAssertEqual(Set(issued.map(\.code)).count, 10)
        let stored = issued.map(\.hash)
        for (index, entry) in issued.enumerated() {
            XCTAssertTrue(entry.code.wholeMatch(of: /[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}/) != nil, entry.code)
            XCTAssertEqual(codes.match(entry.code, storedHashes: stored), index)
            XCTAssertEqual(codes.match(entry.code.lowercased().replacingOccurrences(of: "-", with: " "), storedHashes: stored), index)
        }
        XCTAssertNil(codes.match("AAAA-AAAA-AAAA-AAAA", storedHashes: stored))
        // Another pepper produces unrelated hashes: a leaked table is useless without the key.
        let other = try RecoveryCodes(pepper: Sodium.randomBytes(32))
        XCTAssertNil(other.match(issued[0].code, storedHashes: stored))
    }
}
