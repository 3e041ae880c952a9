import Foundation
import XCTest

@testable import Tokens

final class KeyRingTests: XCTestCase {
    private let master = try! MasterKey.generate()
    private let policy = RotationPolicy(
        rotationPeriod: 86_400, publishLead: 3600, maxTokenLifetime: 600, clockSkew: 30,
        retiredRetention: 86_400)

    private func rotate(_ ring: KeyRing, at now: Date, force: Bool = false) throws -> KeyRing {
        try ring.rotated(now: now, policy: policy, force: force) { state throws(TokenError) in
            try KeyRecord.generate(masterKey: master, now: now, state: state)
        }
    }

    private func states(_ ring: KeyRing) -> [KeyState] { ring.records.map(\.state) }

    func testRotationLifecycleAndOldTokensVerifyUntilExpiry() throws {
        let t0 = testNow
        var ring = try rotate(KeyRing(), at: t0)
        XCTAssertEqual(states(ring), [.active], "bootstrap mints one active key")
        let first = try XCTUnwrap(ring.active)

        // Nothing changes before the publish lead; the next key appears within it, unused.
        XCTAssertEqual(try rotate(ring, at: t0.addingTimeInterval(80_000)), ring)
        ring = try rotate(ring, at: t0.addingTimeInterval(83_000))
        XCTAssertEqual(states(ring), [.active, .next])
        let next = ring.records[1]
        XCTAssertEqual(ring.active?.id, first.id, "the next key is published before it signs")
        XCTAssertNotNil(try ring.verificationKeys().byID[next.id], "next key is in the published set")

        // A token signed by the first key shortly before rollover.
        let signedAt = t0.addingTimeInterval(86_000)
        let oldToken = try ring.signer(masterKey: master).paseto(sampleClaims(now: signedAt, lifetime: 600))

        // Rollover: first → retiring, next → active.
        let rollover = t0.addingTimeInterval(86_400)
        ring = try rotate(ring, at: rollover)
        XCTAssertEqual(ring.records.first { $0.id == first.id }?.state, .retiring)
        XCTAssertEqual(ring.active?.id, next.id)
        XCTAssertEqual(try ring.signer(masterKey: master).key.publicKey.keyID, next.id)

        // The old token still verifies through its expiry, with the retiring key published.
        let verifier = PasetoPublicVerifier(keys: try ring.verificationKeys(), policy: samplePolicy)
        XCTAssertNoThrow(try verifier.verify(oldToken, now: signedAt.addingTimeInterval(599)))

        // Retiring key stays until maxTokenLifetime + skew after it stopped signing, then retires.
        ring = try rotate(ring, at: rollover.addingTimeInterval(629))
        XCTAssertEqual(ring.records.first { $0.id == first.id }?.state, .retiring)
        ring = try rotate(ring, at: rollover.addingTimeInterval(630))
        let retired = try XCTUnwrap(ring.records.first { $0.id == first.id })
        XCTAssertEqual(retired.state, .retired)
        XCTAssertNil(retired.sealedSeed, "retired keys lose their secret")
        XCTAssertNil(try ring.verificationKeys().byID[first.id])
        let after = PasetoPublicVerifier(keys: try ring.verificationKeys(), policy: samplePolicy)
        XCTAssertThrowsError(try after.verify(oldToken, now: signedAt.addingTimeInterval(599))) {
            XCTAssertEqual($0 as? TokenError, .unknownKeyID(first.id))
        }

        // Retired records are pruned after retention.
        ring = try rotate(ring, at: rollover.addingTimeInterval(630 + 86_400))
        XCTAssertNil(ring.records.first { $0.id == first.id })
    }

    func testForcedRotationNeverActivatesAnUnpublishedKey() throws {
        var ring = try rotate(KeyRing(), at: testNow)
        let first = try XCTUnwrap(ring.active?.id)
        ring = try rotate(ring, at: testNow.addingTimeInterval(10), force: true)
        XCTAssertEqual(ring.active?.id, first, "first forced rotation only publishes a next key")
        XCTAssertEqual(states(ring), [.active, .next])
        ring = try rotate(ring, at: testNow.addingTimeInterval(20), force: true)
        XCTAssertNotEqual(ring.active?.id, first)
        XCTAssertEqual(ring.records.first { $0.id == first }?.state, .retiring)
    }

    func testSealedKeysNeedTheMasterKey() throws {
        let ring = try rotate(KeyRing(), at: testNow)
        let record = try XCTUnwrap(ring.active)
        // The stored record contains no plaintext seed.
        let signer = try ring.signer(masterKey: master)
        let encoded = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        XCTAssertFalse(encoded.contains(Base64URL.encode(signer.key.seed())))
        XCTAssertFalse(encoded.contains(hexString(signer.key.seed())))

        let wrong = try MasterKey.generate()
        XCTAssertThrowsError(try ring.signer(masterKey: wrong)) {
            XCTAssertEqual($0 as? KeyRingError, .unsealFailed(keyID: record.id))
            XCTAssertTrue("\($0)".contains("wrong master key"))
        }
        // A sealed seed moved onto another record (different id = associated data) does not open.
        var other = try rotate(KeyRing(), at: testNow)
        other.records[0].sealedSeed = record.sealedSeed
        XCTAssertThrowsError(try other.signer(masterKey: master)) {
            guard case .unsealFailed = $0 as? KeyRingError else { return XCTFail("\($0)") }
        }
    }

    func testSecretsNeverPrinted() throws {
        let raw = Sodium.randomBytes(32)
        let master = try MasterKey(bytes: raw)
        let key = try Ed25519SecretKey(seed: raw)
        let local = try PasetoLocalKey(bytes: raw)
        let totp = TOTP(secret: raw)
        for text in ["\(master)", String(reflecting: master), "\(key)", "\(local)", "\(totp)", "\(SecretBytes(raw))"] {
            XCTAssertFalse(text.contains(hexString(raw)), text)
            XCTAssertFalse(text.contains(Base64URL.encode(raw)), text)
            XCTAssertTrue(text.contains("redacted"), text)
        }
    }

    func testMasterKeyFormats() throws {
        let raw = Sodium.randomBytes(32)
        let expected = try MasterKey(bytes: raw).seal([1, 2, 3], context: "c")
        for encoded in [hexString(raw), Base64URL.encode(raw), Data(raw).base64EncodedString() + "\n"] {
            let key = try MasterKey.fromEnvironment([MasterKey.environmentVariable: encoded])
            XCTAssertEqual(try key?.open(expected, context: "c"), [1, 2, 3])
        }
        XCTAssertNil(try MasterKey.fromEnvironment([:]))
        XCTAssertThrowsError(try MasterKey(encoded: Array("too-short".utf8))) {
            XCTAssertFalse("\($0)".contains("too-short"), "error must not echo the value")
        }
    }

    func testFileStoreIsAtomicAndPrivate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = FileKeyRingStore(path: directory.appendingPathComponent("ring.json").path)
        let empty = try await store.load()
        XCTAssertEqual(empty, KeyRing())
        let ring = try rotate(try rotate(KeyRing(), at: testNow), at: testNow, force: true)
        try await store.save(ring)
        let loaded = try await store.load()
        XCTAssertEqual(loaded, ring)
        let attributes = try FileManager.default.attributesOfItem(atPath: store.path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["ring.json"], "no temp files left")
        // Overwrite works and a corrupt file fails with a typed error.
        try await store.save(try rotate(loaded, at: testNow, force: true))
        try Data("{".utf8).write(to: URL(fileURLWithPath: store.path))
        do {
            _ = try await store.load()
            XCTFail("corrupt store loaded")
        } catch {
            guard case .storeUnreadable = error else { return XCTFail("\(error)") }
        }
    }
}

final class KeyRingRotatorTests: XCTestCase {
    func testRotatorSavesOnlyWhenDueAndRefusesAnotherMasterKey() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rotator-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = FileKeyRingStore(path: directory.appendingPathComponent("ring.json").path)
        let master = try MasterKey.generate()
        let policy = RotationPolicy(rotationPeriod: 3600, publishLead: 600, maxTokenLifetime: 300)
        let rotator = KeyRingRotator(store: store, masterKey: master, policy: policy)

        let first = try await rotator.rotateIfDue(now: testNow)
        XCTAssertTrue(first.changed)
        XCTAssertEqual(first.ring.records.map(\.state), [.active])
        let quiet = try await rotator.rotateIfDue(now: testNow.addingTimeInterval(60))
        XCTAssertFalse(quiet.changed)
        let published = try await rotator.rotateIfDue(now: testNow.addingTimeInterval(3000))
        XCTAssertEqual(published.ring.records.map(\.state), [.active, .next])
        let rolled = try await rotator.rotateIfDue(now: testNow.addingTimeInterval(3600))
        XCTAssertEqual(rolled.ring.records.map(\.state), [.retiring, .active])
        let stored = try await store.load()
        XCTAssertEqual(stored, rolled.ring)

        let intruder = KeyRingRotator(store: store, masterKey: try MasterKey.generate(), policy: policy)
        do {
            _ = try await intruder.rotateIfDue(now: testNow.addingTimeInterval(3700), force: true)
            XCTFail("a different master key rotated the ring")
        } catch {
            guard case .unsealFailed = error else { return XCTFail("\(error)") }
        }
        let untouched = try await store.load()
        XCTAssertEqual(untouched, rolled.ring)
    }
}
