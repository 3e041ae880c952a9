import Foundation
import XCTest

@testable import Tokens

/// Key records carry an authenticator under the master key (issue 24): a record inserted or
/// altered in the database, by someone without the master key, is never trusted or published.
final class KeyRecordAuthenticationTests: XCTestCase {
    private let master = try! MasterKey.generate()

    /// A record as a database writer without the master key would insert it: a real public
    /// key of its own, published state, no sealed seed, and an authenticator it had to guess.
    private func injected(authenticator: String? = nil) throws -> KeyRecord {
        let key = try Ed25519SecretKey.generate()
        var record = KeyRecord(
            id: key.publicKey.keyID, publicKey: key.publicKey.paserk, sealedSeed: nil, state: .retiring, createdAt: testNow)
        record.authenticator = authenticator
        return record
    }

    func testGeneratedRecordsAreVouchedForAndInjectedOrAlteredOnesAreNot() throws {
        let genuine = try KeyRecord.generate(masterKey: master, now: testNow, state: .active)
        XCTAssertTrue(genuine.isAuthentic(under: master))
        XCTAssertFalse(genuine.isAuthentic(under: try MasterKey.generate()), "another master key vouches for nothing here")
        // Copying a genuine authenticator onto another key does not make it genuine.
        let copied = try injected(authenticator: genuine.authenticator)
        var altered = genuine
        altered.publicKey = copied.publicKey
        let ring = KeyRing(records: [genuine, try injected(), copied, altered])
        let (trusted, untrusted) = ring.trusted(under: master)
        XCTAssertEqual(trusted.records, [genuine])
        XCTAssertEqual(untrusted.count, 3)
        XCTAssertEqual(try trusted.verificationKeys().byID.keys.sorted(), [genuine.id], "only the genuine key is published")
        XCTAssertNil(try trusted.verificationKeys().byID[copied.id])
    }

    /// Records written before authenticators existed are stamped once their sealed seed proves
    /// them; a record without a seed (retired, or injected) cannot be.
    func testUnstampedRecordsAreStampedOnlyWhenTheirSealedSeedProvesThem() throws {
        var legacy = try KeyRecord.generate(masterKey: master, now: testNow, state: .active)
        legacy.authenticator = nil
        var swapped = try KeyRecord.generate(masterKey: master, now: testNow, state: .next)
        swapped.authenticator = nil
        swapped.publicKey = try injected().publicKey  // a genuine id and sealed seed, someone else's public key
        let stamped = KeyRing(records: [legacy, swapped, try injected()])
            .authenticatingUnstamped(masterKey: master, matches: KeyRecord.ed25519Matches)
        XCTAssertEqual(stamped.records.map { $0.isAuthentic(under: master) }, [true, false, false])
        XCTAssertEqual(try stamped.trusted(under: master).ring.signer(masterKey: master).key.publicKey.keyID, legacy.id)
    }

    func testARingKeysJWKMustMatchItsSealedSecretToBeStamped() throws {
        var record = try KeyRecord.generate(P256SigningKey.self, masterKey: master, now: testNow, state: .active)
        record.authenticator = nil
        var other = try KeyRecord.generate(P256SigningKey.self, masterKey: master, now: testNow, state: .next)
        other.authenticator = nil
        other.publicKey = record.publicKey  // another key's JWK under this record's id
        let stamped = KeyRing(records: [record, other]).authenticatingUnstamped(masterKey: master) {
            KeyRecord.matches(P256SigningKey.self, $0, secret: $1)
        }
        XCTAssertEqual(stamped.records.map { $0.isAuthentic(under: master) }, [true, false])
    }

    /// An injected record waiting as `next` is never rotated into use: the genuine ring rotates
    /// around it, and it stays (untrusted) to be reported.
    func testRotationLeavesInjectedRecordsOutOfUse() throws {
        let policy = RotationPolicy(rotationPeriod: 86_400, publishLead: 3600, maxTokenLifetime: 600, clockSkew: 30, retiredRetention: 86_400)
        let genuine = try KeyRecord.generate(masterKey: master, now: testNow, state: .active)
        var planted = try injected()
        planted.state = .next
        let ring = KeyRing(records: [genuine, planted])
        let rotated = try ring.changingTrusted(under: master) { trusted throws(TokenError) in
            try trusted.rotated(now: testNow.addingTimeInterval(86_400), policy: policy, force: true) { state throws(TokenError) in
                try KeyRecord.generate(masterKey: master, now: testNow.addingTimeInterval(86_400), state: state)
            }
        }
        XCTAssertNotEqual(rotated.active?.id, planted.id)
        XCTAssertTrue(try XCTUnwrap(rotated.active).isAuthentic(under: master))
        XCTAssertEqual(rotated.records.last, planted, "kept as it was, to be reported")
        XCTAssertEqual(try rotated.trusted(under: master).ring.signer(masterKey: master).key.publicKey.keyID, rotated.active?.id)
    }
}
