import Foundation
import XCTest

@testable import Tokens

/// Round trips and every way a token must be refused.
final class TokenVerificationTests: XCTestCase {
    private let signing = try! Ed25519SecretKey.generate()
    private var keys: VerificationKeys { VerificationKeys([signing.publicKey]) }
    private var paseto: PasetoPublicVerifier { PasetoPublicVerifier(keys: keys, policy: samplePolicy) }
    private var jwt: JWTVerifier { JWTVerifier(keys: keys, policy: samplePolicy) }

    func testRoundTripsKeepEveryClaim() throws {
        let claims = sampleClaims()
        let signer = TokenSigner(key: signing)
        XCTAssertEqual(try paseto.verify(signer.paseto(claims), now: testNow), claims)
        XCTAssertEqual(try jwt.verify(signer.jwt(claims), now: testNow), claims)
        let cookies = SessionCookieCodec(current: try PasetoLocalKey.generate(), policy: samplePolicy)
        XCTAssertEqual(try cookies.open(cookies.seal(claims), now: testNow), claims)
    }

    func testEveryFlippedBitFails() throws {
        let signer = TokenSigner(key: signing)
        let cookies = SessionCookieCodec(current: try PasetoLocalKey.generate(), policy: samplePolicy)
        let cases: [(String, (String) throws -> Claims)] = [
            (signer.paseto(sampleClaims()), { try self.paseto.verify($0, now: testNow) }),
            (signer.jwt(sampleClaims()), { try self.jwt.verify($0, now: testNow) }),
            (try cookies.seal(sampleClaims()), { try cookies.open($0, now: testNow) }),
        ]
        for (token, verify) in cases {
            XCTAssertNoThrow(try verify(token))
            let original = Array(token.utf8)
            var accepted = 0
            for index in original.indices {
                for bit in 0..<8 {
                    var flipped = original
                    flipped[index] ^= 1 << bit
                    if (try? verify(String(decoding: flipped, as: UTF8.self))) != nil { accepted += 1 }
                }
            }
            XCTAssertEqual(accepted, 0, "a bit-flipped token verified: \(token.prefix(12))")
        }
    }

    func testWrongKeyWrongPurposeWrongVersion() throws {
        let claims = sampleClaims()
        let other = try Ed25519SecretKey.generate()
        // Signed by a key that is not in the set: unknown kid.
        XCTAssertThrowsError(try paseto.verify(TokenSigner(key: other).paseto(claims), now: testNow)) {
            XCTAssertEqual($0 as? TokenError, .unknownKeyID(other.publicKey.keyID))
        }
        // Signed by another key but claiming our kid: signature fails.
        let forged = PasetoV4.sign(
            ClaimsCodec.encode(claims, as: .paseto), with: other,
            footer: KeyIDFooter.encode(signing.publicKey.keyID))
        XCTAssertThrowsError(try paseto.verify(forged, now: testNow)) { XCTAssertEqual($0 as? TokenError, .authenticationFailed) }
        // A local (encrypted) token given to the public verifier, and vice versa.
        let localKey = try PasetoLocalKey.generate()
        let cookies = SessionCookieCodec(current: localKey, policy: samplePolicy)
        XCTAssertThrowsError(try paseto.verify(cookies.seal(claims), now: testNow)) {
            XCTAssertEqual($0 as? TokenError, .wrongHeader(expected: "v4.public."))
        }
        XCTAssertThrowsError(try cookies.open(TokenSigner(key: signing).paseto(claims), now: testNow)) {
            XCTAssertEqual($0 as? TokenError, .wrongHeader(expected: "v4.local."))
        }
        // A public token whose footer names a local key id (k4.lid) is refused before lookup.
        let confused = PasetoV4.sign(
            ClaimsCodec.encode(claims, as: .paseto), with: signing,
            footer: KeyIDFooter.encode(localKey.keyID))
        XCTAssertThrowsError(try paseto.verify(confused, now: testNow)) {
            XCTAssertEqual($0 as? TokenError, .keyIDPurposeMismatch(expected: "k4.pid."))
        }
        XCTAssertThrowsError(try PasetoV4.verify(try cookies.seal(claims), with: signing.publicKey)) {
            XCTAssertEqual($0 as? TokenError, .wrongHeader(expected: "v4.public."))
        }
        // Other versions are refused by header, whatever follows.
        let v4 = TokenSigner(key: signing).paseto(claims)
        for header in ["v3.public.", "v2.public.", "v1.public.", "V4.public.", "v4.PUBLIC."] {
            let token = header + v4.dropFirst("v4.public.".count)
            XCTAssertThrowsError(try paseto.verify(token, now: testNow)) {
                XCTAssertEqual($0 as? TokenError, .wrongHeader(expected: "v4.public."))
            }
        }
        // A footer with a kid we know but implicit assertion mismatch fails.
        var strict = paseto
        strict.implicit = Array("access".utf8)
        XCTAssertThrowsError(try strict.verify(v4, now: testNow)) { XCTAssertEqual($0 as? TokenError, .authenticationFailed) }
        // Missing footer: no key id.
        let bare = PasetoV4.sign(ClaimsCodec.encode(claims, as: .paseto), with: signing)
        XCTAssertThrowsError(try paseto.verify(bare, now: testNow)) { XCTAssertEqual($0 as? TokenError, .missingKeyID) }
    }

    func testTimeIssuerAudienceAndLifetime() throws {
        let signer = TokenSigner(key: signing)
        func check(_ claims: Claims, at now: Date = testNow, _ expected: TokenError, line: UInt = #line) {
            XCTAssertThrowsError(try paseto.verify(signer.paseto(claims), now: now), line: line) {
                XCTAssertEqual($0 as? TokenError, expected, line: line)
            }
            XCTAssertThrowsError(try jwt.verify(signer.jwt(claims), now: now), line: line) {
                XCTAssertEqual($0 as? TokenError, expected, line: line)
            }
        }
        let claims = sampleClaims(lifetime: 600)
        // exp: valid within 30 s skew after expiry, refused at the skew boundary.
        XCTAssertNoThrow(try paseto.verify(signer.paseto(claims), now: testNow.addingTimeInterval(629)))
        check(claims, at: testNow.addingTimeInterval(630), .expired)
        var future = claims
        future.notBefore = testNow.addingTimeInterval(120)
        check(future, .notYetValid)
        XCTAssertNoThrow(try paseto.verify(signer.paseto(future), now: testNow.addingTimeInterval(95)))
        check(sampleClaims(now: testNow.addingTimeInterval(60)), .issuedInFuture)
        check(sampleClaims(lifetime: 7200), .lifetimeTooLong(seconds: 7200, limit: 3600))
        var issuer = claims
        issuer.issuer = "https://evil.test"
        check(issuer, .issuerNotAccepted("https://evil.test"))
        check(sampleClaims(audience: ["other-service"]), .audienceNotAccepted)
        check(sampleClaims(audience: ["portcullis-gateway-2"]), .audienceNotAccepted)
        XCTAssertNoThrow(try jwt.verify(signer.jwt(sampleClaims(audience: ["a", "portcullis-gateway"])), now: testNow))
    }

    func testOversizedTokensRejectedBeforeCrypto() throws {
        let huge = "v4.public." + String(repeating: "A", count: 9000)
        XCTAssertThrowsError(try paseto.verify(huge, now: testNow)) { XCTAssertEqual($0 as? TokenError, .tooLarge(size: 9010, limit: 8192)) }
        XCTAssertThrowsError(try jwt.verify(String(repeating: "A", count: 9000), now: testNow)) {
            XCTAssertEqual($0 as? TokenError, .tooLarge(size: 9000, limit: 8192))
        }
        var small = paseto
        small.maxTokenLength = 100
        XCTAssertThrowsError(try small.verify(TokenSigner(key: signing).paseto(sampleClaims()), now: testNow)) {
            guard case .tooLarge = $0 as? TokenError else { return XCTFail("\($0)") }
        }
    }

    func testJWTAlgorithmConfusionIsRejected() throws {
        let kid = signing.publicKey.keyID
        let payload = Base64URL.encode(ClaimsCodec.encode(sampleClaims(), as: .jwt))
        func token(header: String, signature: [UInt8]? = nil) -> String {
            let input = Base64URL.encode(Array(header.utf8)) + "." + payload
            return input + "." + Base64URL.encode(signature ?? signing.sign(Array(input.utf8)))
        }
        let cases: [(String, TokenError)] = [
            ("{\"alg\":\"none\",\"kid\":\"\(kid)\"}", .unsupportedAlgorithm("none")),
            ("{\"alg\":\"HS256\",\"kid\":\"\(kid)\"}", .unsupportedAlgorithm("HS256")),
            ("{\"alg\":\"RS256\",\"kid\":\"\(kid)\"}", .unsupportedAlgorithm("RS256")),
            ("{\"alg\":\"ES256\",\"kid\":\"\(kid)\"}", .unsupportedAlgorithm("ES256")),
            ("{\"alg\":\"eddsa\",\"kid\":\"\(kid)\"}", .unsupportedAlgorithm("eddsa")),
            ("{\"kid\":\"\(kid)\"}", .unsupportedAlgorithm("(missing)")),
            ("{\"alg\":\"EdDSA\"}", .missingKeyID),
            ("{\"alg\":\"EdDSA\",\"kid\":\"k4.pid.unknown\"}", .unknownKeyID("k4.pid.unknown")),
            ("{\"alg\":\"EdDSA\",\"kid\":\"\(kid)\",\"crit\":[\"b64\"]}", .unsupportedCriticalHeader),
        ]
        for (header, expected) in cases {
            XCTAssertThrowsError(try jwt.verify(token(header: header), now: testNow), header) {
                XCTAssertEqual($0 as? TokenError, expected, header)
            }
        }
        // Unsigned "none" token (empty signature) and HMAC keyed with the public key.
        let noneToken = Base64URL.encode(Array("{\"alg\":\"none\",\"kid\":\"\(kid)\"}".utf8)) + "." + payload + "."
        XCTAssertThrowsError(try jwt.verify(noneToken, now: testNow))
        // A correctly signed token whose header is then swapped keeps failing.
        let good = TokenSigner(key: signing).jwt(sampleClaims())
        XCTAssertNoThrow(try jwt.verify(good, now: testNow))
        let swapped =
            Base64URL.encode(Array("{\"alg\":\"EdDSA\",\"kid\":\"\(kid)\",\"typ\":\"at+jwt\"}".utf8))
            + good.drop { $0 != "." }
        XCTAssertThrowsError(try jwt.verify(swapped, now: testNow)) { XCTAssertEqual($0 as? TokenError, .authenticationFailed) }
        XCTAssertThrowsError(try jwt.verify("a.b", now: testNow))
        XCTAssertThrowsError(try jwt.verify("a.b.c.d", now: testNow))
    }

    func testBase64URLIsStrict() {
        XCTAssertEqual(Base64URL.decode("AA"), [0])
        XCTAssertNil(Base64URL.decode("AB"), "non-zero trailing bits")
        XCTAssertNil(Base64URL.decode("AA=="), "padding")
        XCTAssertNil(Base64URL.decode("A+/="), "standard alphabet")
        XCTAssertNil(Base64URL.decode("A"))
        for length in 0..<40 {
            let data = Sodium.randomBytes(length)
            XCTAssertEqual(Base64URL.decode(Base64URL.encode(data)), data)
        }
    }

    func testRFC3339() {
        XCTAssertEqual(RFC3339.parse("2022-01-01T00:00:00+00:00"), Date(timeIntervalSince1970: 1_640_995_200))
        XCTAssertEqual(RFC3339.parse("2022-01-01T01:30:00+01:30"), Date(timeIntervalSince1970: 1_640_995_200))
        XCTAssertEqual(RFC3339.parse("2021-12-31T23:00:00-01:00"), Date(timeIntervalSince1970: 1_640_995_200))
        XCTAssertEqual(RFC3339.parse("2022-01-01T00:00:00.5Z"), Date(timeIntervalSince1970: 1_640_995_200.5))
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 1_640_995_200)), "2022-01-01T00:00:00Z")
        XCTAssertEqual(RFC3339.format(Date(timeIntervalSince1970: 951_782_400)), "2000-02-29T00:00:00Z")
        for bad in ["2022-01-01", "2022-01-01T00:00:00", "2022-13-01T00:00:00Z", "2022-01-01T00:00:00+0000", "x022-01-01T00:00:00Z"] {
            XCTAssertNil(RFC3339.parse(bad), bad)
        }
    }

    func testClaimsDecodeErrorsAreTyped() {
        XCTAssertThrowsError(try ClaimsCodec.decode(Array("{\"sub\":\"a\"}".utf8), as: .paseto)) {
            guard case .invalidClaims(let reason) = $0 as? TokenError else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("missing claim"), reason)
        }
        XCTAssertThrowsError(try ClaimsCodec.decode(Array("not json".utf8), as: .jwt))
    }

    /// RFC 8705 `cnf` survives both formats as `{"x5t#S256": …}`; a binding of any other kind is
    /// refused rather than ignored, which would turn a bound token into a bearer token.
    func testCertificateConfirmationRoundTripsAndOtherBindingsAreRefused() throws {
        var claims = sampleClaims()
        claims.certificateThumbprint = "Z3H8bkq0vUjQb0Z3zJ7Hq3l8s5d1rXo2bqg0yX1iR7E"
        let signer = TokenSigner(key: signing)
        XCTAssertEqual(try paseto.verify(signer.paseto(claims), now: testNow), claims)
        XCTAssertEqual(try jwt.verify(signer.jwt(claims), now: testNow), claims)
        let json = String(decoding: ClaimsCodec.encode(claims, as: .jwt), as: UTF8.self)
        XCTAssertTrue(json.contains(#""cnf":{"x5t#S256":"Z3H8bkq0vUjQb0Z3zJ7Hq3l8s5d1rXo2bqg0yX1iR7E"}"#), json)
        let base = #""iss":"i","sub":"s","aud":"a","iat":1,"exp":2,"jti":"j""#
        for cnf in [#"{"jkt":"abc"}"#, #"{"x5t#S256":"abc","jkt":"abc"}"#, #"{"x5t#S256":""}"#, #"{"x5t#S256":1}"#, #""abc""#, "{}"] {
            XCTAssertThrowsError(try ClaimsCodec.decode(Array("{\(base),\"cnf\":\(cnf)}".utf8), as: .jwt), cnf) {
                guard case .invalidClaims(let reason) = $0 as? TokenError else { return XCTFail("\($0)") }
                XCTAssertTrue(reason.contains("cnf"), reason)
            }
        }
    }
}

/// Structural abuse: truncations, extensions and garbage must be refused without crashing.
final class MalformedInputTests: XCTestCase {
    func testTruncationsAndGarbageNeverVerify() throws {
        let key = try Ed25519SecretKey.generate()
        let keys = VerificationKeys([key.publicKey])
        let paseto = PasetoPublicVerifier(keys: keys, policy: samplePolicy)
        let jwt = JWTVerifier(keys: keys, policy: samplePolicy)
        let cookies = SessionCookieCodec(current: try PasetoLocalKey.generate(), policy: samplePolicy)
        let tokens = [
            TokenSigner(key: key).paseto(sampleClaims()), TokenSigner(key: key).jwt(sampleClaims()),
            try cookies.seal(sampleClaims()),
        ]
        func accepted(_ candidate: String) -> Bool {
            (try? paseto.verify(candidate, now: testNow)) != nil || (try? jwt.verify(candidate, now: testNow)) != nil
                || (try? cookies.open(candidate, now: testNow)) != nil
        }
        for token in tokens {
            XCTAssertTrue(accepted(token))
            for length in 0..<token.count { XCTAssertFalse(accepted(String(token.prefix(length))), "prefix \(length)") }
            for suffix in ["A", ".", "=", "AA", ".e30", " "] { XCTAssertFalse(accepted(token + suffix), suffix) }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<200, using: &generator)
            let garbage = String(decoding: (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }, as: UTF8.self)
            XCTAssertFalse(accepted("v4.public." + garbage))
            XCTAssertFalse(accepted(garbage))
            _ = JSONValue.parse(Array(garbage.utf8))
        }
    }

    func testCacheRemoveAll() {
        let cache = VerifiedTokenCache()
        cache.insert("t", claims: sampleClaims(), ticket: cache.ticket(), now: testNow)
        let before = cache.ticket()
        cache.removeAll()
        XCTAssertNil(cache.lookup("t", now: testNow))
        cache.insert("u", claims: sampleClaims(), ticket: before, now: testNow)
        XCTAssertNil(cache.lookup("u", now: testNow), "verifications in flight across removeAll are not cached")
        XCTAssertEqual(cache.count, 0)
    }
}
