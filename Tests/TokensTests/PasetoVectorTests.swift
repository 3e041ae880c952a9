import Foundation
import XCTest

@testable import Tokens

/// Official PASETO v4 and PASERK vectors (sources listed in Fixtures/README.md).
final class PasetoVectorTests: XCTestCase {
    private struct VectorFile: Decodable { let tests: [Vector] }
    private struct Vector: Decodable {
        let name: String
        let expectFail: Bool?
        let key: String?
        let nonce: String?
        let publicKey: String?
        let secretKeySeed: String?
        let token: String
        let payload: String?
        let footer: String
        let implicitAssertion: String
        enum CodingKeys: String, CodingKey {
            case name, key, nonce, token, payload, footer
            case expectFail = "expect-fail"
            case publicKey = "public-key"
            case secretKeySeed = "secret-key-seed"
            case implicitAssertion = "implicit-assertion"
        }
    }

    private func vectors() throws -> [Vector] {
        try JSONDecoder().decode(VectorFile.self, from: fixture("paseto-v4.json")).tests
    }

    func testAllVectorsPresent() throws {
        XCTAssertEqual(try vectors().count, 16)
        XCTAssertEqual(try vectors().filter { $0.expectFail == true }.count, 4)
    }

    func testLocalVectorsEncryptAndDecrypt() throws {
        for vector in try vectors() where vector.token.hasPrefix("v4.local.") && vector.expectFail != true {
            let key = try PasetoLocalKey(bytes: hex(vector.key!))
            let made = PasetoV4.encrypt(
                bytes(vector.payload!), with: key, footer: bytes(vector.footer),
                implicit: bytes(vector.implicitAssertion), nonce: hex(vector.nonce!))
            XCTAssertEqual(made, vector.token, vector.name)
            let opened = try PasetoV4.decrypt(vector.token, with: key, implicit: bytes(vector.implicitAssertion))
            XCTAssertEqual(opened.payload, bytes(vector.payload!), vector.name)
            XCTAssertEqual(opened.footer, bytes(vector.footer), vector.name)
        }
    }

    func testPublicVectorsSignAndVerify() throws {
        for vector in try vectors() where vector.token.hasPrefix("v4.public.") && vector.expectFail != true {
            let secret = try Ed25519SecretKey(seed: hex(vector.secretKeySeed!))
            XCTAssertEqual(secret.publicKey.bytes, hex(vector.publicKey!), vector.name)
            let made = PasetoV4.sign(
                bytes(vector.payload!), with: secret, footer: bytes(vector.footer),
                implicit: bytes(vector.implicitAssertion))
            XCTAssertEqual(made, vector.token, vector.name)
            let opened = try PasetoV4.verify(vector.token, with: secret.publicKey, implicit: bytes(vector.implicitAssertion))
            XCTAssertEqual(opened.payload, bytes(vector.payload!), vector.name)
        }
    }

    /// 4-F-1: a v4.local token given to the public verifier; 4-F-2: a v4.public token given to
    /// the local decrypter; 4-F-3: a v3 token; 4-F-4: a modified tag.
    func testFailureVectorsFail() throws {
        for vector in try vectors() where vector.expectFail == true {
            let implicit = bytes(vector.implicitAssertion)
            if let publicKey = vector.publicKey {
                let key = try Ed25519PublicKey(bytes: hex(publicKey))
                XCTAssertThrowsError(try PasetoV4.verify(vector.token, with: key, implicit: implicit), vector.name)
            }
            if let symmetric = vector.key {
                let key = try PasetoLocalKey(bytes: hex(symmetric))
                XCTAssertThrowsError(try PasetoV4.decrypt(vector.token, with: key, implicit: implicit), vector.name)
            }
        }
    }

    private struct PaserkFile: Decodable { let tests: [PaserkVector] }
    private struct PaserkVector: Decodable {
        let name: String
        let key: String
        let paserk: String?
    }

    func testPaserkPublicAndPid() throws {
        let publics = try JSONDecoder().decode(PaserkFile.self, from: fixture("paserk-k4.public.json")).tests
        for vector in publics {
            let key = try Ed25519PublicKey(bytes: hex(vector.key))
            XCTAssertEqual(key.paserk, vector.paserk, vector.name)
            XCTAssertEqual(try Ed25519PublicKey(paserk: vector.paserk!), key, vector.name)
        }
        let pids = try JSONDecoder().decode(PaserkFile.self, from: fixture("paserk-k4.pid.json")).tests
        var checked = 0
        for vector in pids {
            if let expected = vector.paserk {
                XCTAssertEqual(try Ed25519PublicKey(bytes: hex(vector.key)).keyID, expected, vector.name)
                checked += 1
            } else {
                XCTAssertThrowsError(try Ed25519PublicKey(bytes: hex(vector.key)), vector.name)
            }
        }
        XCTAssertEqual(checked, 3)
        XCTAssertThrowsError(try Ed25519PublicKey(paserk: "k3.public.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
    }

    func testPaserkLid() throws {
        let lids = try JSONDecoder().decode(PaserkFile.self, from: fixture("paserk-k4.lid.json")).tests
        XCTAssertEqual(lids.count, 3)
        for vector in lids {
            XCTAssertEqual(try PasetoLocalKey(bytes: hex(vector.key)).keyID, vector.paserk, vector.name)
        }
    }
}
