import Foundation
import XCTest

@testable import Tokens

/// Portcullis tokens against implementations nobody here wrote: pyseto (PASETO/PASERK) and
/// PyJWT (+ cryptography) via Tests/interop/tokens_interop.py.
final class InteropTests: XCTestCase {
    private let now = Date()

    private func liveClaims() -> Claims { sampleClaims(now: now, lifetime: 600) }
    private var livePolicy: ClaimsPolicy { samplePolicy }

    func testPysetoVerifiesOurPublicTokens() throws {
        let interop = try Interop.locate()
        let key = try Ed25519SecretKey.generate()
        let token = TokenSigner(key: key).paseto(liveClaims())
        let result = try interop.run("pyseto-verify-public", ["paserk": key.publicKey.paserk, "token": token])
        XCTAssertEqual(result["footer"] as? String, "{\"kid\":\"\(key.publicKey.keyID)\"}")
        let payload = try XCTUnwrap((result["payload"] as? String).map { Array($0.utf8) })
        XCTAssertEqual(try ClaimsCodec.decode(payload, as: .paseto), liveClaims())
        // pyseto rejects our token under a different key.
        let other = try Ed25519SecretKey.generate()
        XCTAssertThrowsError(try interop.run("pyseto-verify-public", ["paserk": other.publicKey.paserk, "token": token]))
    }

    func testPysetoDecryptsOurLocalTokens() throws {
        let interop = try Interop.locate()
        let raw = Sodium.randomBytes(32)
        let cookies = SessionCookieCodec(current: try PasetoLocalKey(bytes: raw), policy: livePolicy)
        let token = try cookies.seal(liveClaims())
        let result = try interop.run("pyseto-decrypt-local", ["key_hex": hexString(raw), "token": token, "implicit": "portcullis-session"])
        let payload = try XCTUnwrap((result["payload"] as? String).map { Array($0.utf8) })
        XCTAssertEqual(try ClaimsCodec.decode(payload, as: .paseto), liveClaims())
        // The implicit assertion is really bound: pyseto refuses the cookie without it.
        XCTAssertThrowsError(try interop.run("pyseto-decrypt-local", ["key_hex": hexString(raw), "token": token]))
    }

    func testWeVerifyPysetoTokensAndIds() throws {
        let interop = try Interop.locate()
        let seed = Sodium.randomBytes(32)
        let key = try Ed25519SecretKey(seed: seed)
        let payload = String(decoding: ClaimsCodec.encode(liveClaims(), as: .paseto), as: UTF8.self)
        let made = try interop.run(
            "pyseto-sign-public",
            [
                "seed_hex": hexString(seed), "payload": payload, "footer": "{\"kid\":\"\(key.publicKey.keyID)\"}",
            ])
        // pyseto computes the same PASERK and k4.pid as we do.
        XCTAssertEqual(made["paserk"] as? String, key.publicKey.paserk)
        XCTAssertEqual(made["pid"] as? String, key.publicKey.keyID)
        let keys = VerificationKeys([try Ed25519PublicKey(paserk: try XCTUnwrap(made["paserk"] as? String))])
        let token = try XCTUnwrap(made["token"] as? String)
        XCTAssertEqual(try PasetoPublicVerifier(keys: keys, policy: livePolicy).verify(token, now: now), liveClaims())

        let raw = Sodium.randomBytes(32)
        let local = try PasetoLocalKey(bytes: raw)
        let sealed = try interop.run(
            "pyseto-encrypt-local",
            [
                "key_hex": hexString(raw), "payload": payload, "footer": "{\"kid\":\"\(local.keyID)\"}",
                "implicit": "portcullis-session",
            ])
        XCTAssertEqual(sealed["lid"] as? String, local.keyID)
        let cookies = SessionCookieCodec(current: local, policy: livePolicy)
        XCTAssertEqual(try cookies.open(try XCTUnwrap(sealed["token"] as? String), now: now), liveClaims())
    }

    func testPyJWTVerifiesOurJWTs() throws {
        let interop = try Interop.locate()
        let key = try Ed25519SecretKey.generate()
        let token = TokenSigner(key: key).jwt(liveClaims())
        let result = try interop.run(
            "pyjwt-verify",
            [
                "token": token, "paserk": key.publicKey.paserk, "audience": "portcullis-gateway",
                "issuer": "https://id.portcullis.test",
            ])
        let header = try XCTUnwrap(result["header"] as? [String: String])
        XCTAssertEqual(header["alg"], "EdDSA")
        XCTAssertEqual(header["kid"], key.publicKey.keyID)
        let claims = try XCTUnwrap(result["claims"] as? [String: Any])
        XCTAssertEqual(claims["sub"] as? String, "alice")
        XCTAssertEqual(claims["jti"] as? String, "jti-1")
        XCTAssertEqual(claims["exp"] as? Int, Int(liveClaims().expiresAt.timeIntervalSince1970))
        // PyJWT refuses a wrong audience on the same token (sanity check of the helper).
        XCTAssertThrowsError(
            try interop.run(
                "pyjwt-verify",
                [
                    "token": token, "paserk": key.publicKey.paserk, "audience": "elsewhere", "issuer": "https://id.portcullis.test",
                ]))
    }

    func testWeVerifyPyJWTTokensAndRejectConfusion() throws {
        let interop = try Interop.locate()
        let seed = Sodium.randomBytes(32)
        let key = try Ed25519SecretKey(seed: seed)
        let verifier = JWTVerifier(keys: VerificationKeys([key.publicKey]), policy: livePolicy)
        let claimsJSON = try JSONSerialization.jsonObject(with: Data(ClaimsCodec.encode(liveClaims(), as: .jwt)))
        let request: [String: Any] = [
            "seed_hex": hexString(seed), "claims": claimsJSON, "kid": key.publicKey.keyID,
            "paserk": key.publicKey.paserk,
        ]
        let made = try XCTUnwrap(try interop.run("pyjwt-sign", request)["token"] as? String)
        XCTAssertEqual(try verifier.verify(made, now: now), liveClaims())

        let hs256 = try XCTUnwrap(try interop.run("pyjwt-sign-hs256-public-key", request)["token"] as? String)
        XCTAssertThrowsError(try verifier.verify(hs256, now: now)) { XCTAssertEqual($0 as? TokenError, .unsupportedAlgorithm("HS256")) }
        let none = try XCTUnwrap(try interop.run("pyjwt-sign-none", request)["token"] as? String)
        XCTAssertThrowsError(try verifier.verify(none, now: now)) { XCTAssertEqual($0 as? TokenError, .unsupportedAlgorithm("none")) }
    }
}
