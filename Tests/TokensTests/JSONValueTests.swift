import Foundation
import XCTest

@testable import Tokens

/// The strict token JSON reader: agrees with Foundation on valid documents, and refuses what
/// untrusted token JSON must not contain.
final class JSONValueTests: XCTestCase {
    private func parse(_ text: String) -> JSONValue? { JSONValue.parse(Array(text.utf8)) }

    func testValidDocuments() {
        XCTAssertEqual(
            parse(#" {"a" : [1, -2.5e3, true, false, null, "x"], "b": {}} "#),
            .object([
                ("a", .array([.number(1), .number(-2500), .bool(true), .bool(false), .null, .string("x")])),
                ("b", .object([])),
            ]))
        XCTAssertEqual(parse(#""\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#), .string("\"\\/\u{08}\u{0C}\n\r\té😀"))
        XCTAssertEqual(parse(#""héllo""#), .string("héllo"))
        XCTAssertEqual(parse("0"), .number(0))
        XCTAssertEqual(parse("[]"), .array([]))
    }

    func testAgreesWithFoundationOnStrings() throws {
        for sample in ["plain", "quote\"inside", "tab\t", "emoji 🚪", "back\\slash", "ctl\u{01}", "slash/", "\u{2028}"] {
            let encoded = try JSONSerialization.data(withJSONObject: [sample], options: [.fragmentsAllowed])
            XCTAssertEqual(JSONValue.parse(Array(encoded)), .array([.string(sample)]), sample)
        }
    }

    func testRejections() {
        let bad = [
            #"{"a":1,"a":2}"#,  // duplicate key
            #"{"a":1,}"#, "[1,]",  // trailing commas
            "01", "1.", ".5", "-", "1e", "+1", "NaN", "1e999",  // number grammar, non-finite
            #""\ud800""#, #""\udc00""#,  // lone surrogates
            #""\x""#, "\"a\nb\"",  // bad escape, raw control character
            "tru", "nul", "{", "[", "\"open", "{\"a\" 1}", "{1:2}", "1 2", "",
        ]
        for text in bad { XCTAssertNil(parse(text), text) }
        XCTAssertNil(JSONValue.parse([0x22, 0xC3, 0x28, 0x22]), "invalid UTF-8 is refused, not repaired")
        XCTAssertNil(parse(String(repeating: "[", count: 20) + String(repeating: "]", count: 20)), "depth limit")
        XCTAssertNotNil(parse(String(repeating: "[", count: 10) + String(repeating: "]", count: 10)))
        let many = "{" + (0..<300).map { "\"k\($0)\":0" }.joined(separator: ",") + "}"
        XCTAssertNil(parse(many), "member limit")
    }

    func testDuplicateHeaderMembersAreMalformed() throws {
        let key = try Ed25519SecretKey.generate()
        let verifier = JWTVerifier(keys: VerificationKeys([key.publicKey]), policy: samplePolicy)
        let header = "{\"alg\":\"none\",\"alg\":\"EdDSA\",\"kid\":\"\(key.publicKey.keyID)\"}"
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(ClaimsCodec.encode(sampleClaims(), as: .jwt))
        let token = input + "." + Base64URL.encode(key.sign(Array(input.utf8)))
        XCTAssertThrowsError(try verifier.verify(token, now: testNow)) {
            XCTAssertEqual($0 as? TokenError, .malformed("header is not a JSON object"))
        }
        // Duplicate claims in a validly signed payload are refused too.
        let payload = Array("{\"iss\":\"a\",\"iss\":\"b\"}".utf8)
        XCTAssertThrowsError(try ClaimsCodec.decode(payload, as: .jwt)) {
            XCTAssertEqual($0 as? TokenError, .invalidClaims("payload is not a JSON object"))
        }
    }
}

final class ErrorMessageTests: XCTestCase {
    func testAttackerTextCannotForgeLogLines() {
        let message = TokenError.unknownKeyID("k4.pid.x\nlevel=info msg=\"login ok\"").description
        XCTAssertFalse(message.contains("\n"))
        XCTAssertEqual(message, "unknown key id 'k4.pid.x?level=info msg=\"login ok\"'")
        XCTAssertEqual(
            TokenError.unsupportedAlgorithm(String(repeating: "A", count: 100)).description.count,
            "algorithm '' is not accepted (only EdDSA)".count + 32)
    }

    /// The hand-written claims encoder escapes what JSON requires and round-trips through the
    /// strict decoder in both timestamp formats.
    func testClaimsWithQuotesBackslashesAndControlCharactersRoundTrip() throws {
        let awkward = "a\"b\\c\n\u{01}d/é"
        let claims = Claims(
            issuer: "iss", subject: awkward, audience: ["x", "y"], issuedAt: Date(timeIntervalSince1970: 1_800_000_000),
            expiresAt: Date(timeIntervalSince1970: 1_800_000_600), tokenID: "t", subjectKind: .service,
            roles: [awkward], authMethods: ["mtls"], httpMethod: "GET", httpPath: "/p")
        for format in [ClaimsCodec.Format.jwt, .paseto] {
            let encoded = ClaimsCodec.encode(claims, as: format)
            XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(encoded)))
            XCTAssertEqual(try ClaimsCodec.decode(encoded, as: format), claims)
        }
    }
}
