import Foundation
import XCTest

@testable import Tokens

/// Vectors from the RFCs, inline with their sections named.
final class RFCVectorTests: XCTestCase {
    /// RFC 8032 §7.1, TEST 1, TEST 2, TEST 3 (Ed25519).
    func testRFC8032Ed25519() throws {
        let cases: [(seed: String, publicKey: String, message: String, signature: String)] = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
            ),
            (
                "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
            ),
        ]
        for (index, vector) in cases.enumerated() {
            let key = try Ed25519SecretKey(seed: hex(vector.seed))
            XCTAssertEqual(hexString(key.publicKey.bytes), vector.publicKey, "TEST \(index + 1)")
            let signature = key.sign(hex(vector.message))
            XCTAssertEqual(hexString(signature), vector.signature, "TEST \(index + 1)")
            XCTAssertTrue(signature.withUnsafeBytes { key.publicKey.isValidSignature($0, for: hex(vector.message)) })
            var tampered = signature
            tampered[0] ^= 1
            XCTAssertFalse(tampered.withUnsafeBytes { key.publicKey.isValidSignature($0, for: hex(vector.message)) })
        }
    }

    /// RFC 8037 Appendix A.1/A.2 (Ed25519 JWK) and A.4 (Ed25519 JWS signing).
    func testRFC8037() throws {
        let d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        let key = try Ed25519SecretKey(seed: try XCTUnwrap(Base64URL.decode(d)))
        XCTAssertEqual(Base64URL.encode(key.publicKey.bytes), x)
        // A.2 public JWK (no kid) imports; the exported JWKS carries the same x.
        let jwks = try VerificationKeys(jwks: Data("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"\(x)\"}]}".utf8))
        XCTAssertEqual(try jwks.key(for: key.publicKey.keyID), key.publicKey)
        let exported = try JSONSerialization.jsonObject(with: jwks.jwks()) as! [String: [[String: String]]]
        XCTAssertEqual(
            exported["keys"]?.first,
            [
                "kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.publicKey.keyID,
                "alg": "EdDSA", "use": "sig",
            ])
        // A.4: deterministic signature over the given signing input.
        let signingInput = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        let expected = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        XCTAssertEqual(Base64URL.encode(key.sign(Array(signingInput.utf8))), expected)
        // The RFC's JWS has no kid, so our verifier (which requires a known kid) refuses it.
        let verifier = JWTVerifier(keys: jwks, policy: samplePolicy)
        XCTAssertThrowsError(try verifier.verifySignature(signingInput + "." + expected)) {
            XCTAssertEqual($0 as? TokenError, .missingKeyID)
        }
    }

    /// RFC 6238 Appendix B, SHA-1 rows (seed "12345678901234567890"); our codes are the
    /// 6-digit truncation, i.e. the last six digits of the RFC's 8-digit values.
    func testRFC6238SHA1() {
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        let rows: [(TimeInterval, String)] = [
            (59, "94287082"), (1_111_111_109, "07081804"), (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"), (2_000_000_000, "69279037"), (20_000_000_000, "65353130"),
        ]
        for (time, eightDigits) in rows {
            XCTAssertEqual(totp.code(at: Date(timeIntervalSince1970: time)), String(eightDigits.suffix(6)), "T=\(time)")
        }
    }

    /// FIPS 180 SHA-1 examples and RFC 2202 HMAC-SHA1 test cases 1, 2 and 6.
    func testSHA1AndHMAC() {
        XCTAssertEqual(hexString(SHA1.hash([])), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hexString(SHA1.hash(bytes("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(
            hexString(SHA1.hash(bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(
            hexString(SHA1.hmac(key: [UInt8](repeating: 0x0b, count: 20), message: bytes("Hi There"))),
            "b617318655057264e28bc0b6fb378c8ef146be00")
        XCTAssertEqual(
            hexString(SHA1.hmac(key: bytes("Jefe"), message: bytes("what do ya want for nothing?"))),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        XCTAssertEqual(
            hexString(
                SHA1.hmac(
                    key: [UInt8](repeating: 0xaa, count: 80),
                    message: bytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112")
    }

    /// RFC 7693 Appendix A (BLAKE2b-512 of "abc"); the 256-bit and keyed values were computed
    /// with CPython's hashlib.blake2b, an independent implementation.
    func testBLAKE2b() {
        XCTAssertEqual(
            hexString(Sodium.blake2b(outputLength: 64, bytes("abc"))),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
        XCTAssertEqual(
            hexString(Digest.blake2b256([bytes("ab"), bytes("c")])),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319")
        XCTAssertEqual(
            hexString(Sodium.blake2b(outputLength: 32, key: Array(0..<32), bytes("ab"), bytes("c"))),
            "d63a32d3e44738d7907f964316c241adaba0abfeabc32349677578a15a203f7f")
    }
}
