import CSodium
import Foundation

/// EdDSA (Ed25519) JSON Web Tokens, RFC 7515 compact serialisation with RFC 8037 `alg: EdDSA`.
///
/// The header is never trusted to choose anything but the key: `alg` must be exactly
/// `EdDSA`, `kid` must be present and known, and `crit` is refused.
public enum JWT {
    /// Default upper bound on a JWT's length, in bytes.
    public static let defaultMaxTokenLength = 8 * 1024
    static let maxHeaderLength = 1024

    static func sign(_ payload: [UInt8], with key: Ed25519SecretKey) -> String {
        let header = Array("{\"alg\":\"EdDSA\",\"kid\":\"\(key.publicKey.keyID)\",\"typ\":\"JWT\"}".utf8)
        let signingInput = Base64URL.encode(header) + "." + Base64URL.encode(payload)
        return signingInput + "." + Base64URL.encode(key.sign(Array(signingInput.utf8)))
    }

    /// The header members that matter; anything else is ignored.
    struct Header {
        let alg: String?
        let kid: String?
        let hasCrit: Bool

        init?(json: [UInt8]) {
            guard let object = JSONValue.parse(json), case .object = object else { return nil }
            func string(_ key: String) -> String? {
                if case let .string(value)? = object[key] { return value }
                return nil
            }
            alg = string("alg")
            kid = string("kid")
            hasCrit = object["crit"] != nil
        }
    }

    /// The three decoded segments, unverified.
    struct Parts {
        let header: Header
        let payload: [UInt8]
        let signature: [UInt8]
        let signingInput: [UInt8]
    }

    static func parse(_ token: String, maxLength: Int) throws(TokenError) -> Parts {
        let size = token.utf8.count
        guard size <= maxLength else { throw TokenError.tooLarge(size: size, limit: maxLength) }
        let bytes = Array(token.utf8)
        guard let firstDot = bytes.firstIndex(of: UInt8(ascii: ".")),
            let secondDot = bytes[(firstDot + 1)...].firstIndex(of: UInt8(ascii: ".")),
            !bytes[(secondDot + 1)...].contains(UInt8(ascii: "."))
        else { throw TokenError.malformed("a JWS compact token has exactly three segments") }
        guard firstDot <= maxHeaderLength * 4 / 3 + 4,
            let headerBytes = bytes[..<firstDot].withUnsafeBytes(Base64URL.decode)
        else { throw TokenError.malformed("header is not base64url or too long") }
        guard let payload = bytes[(firstDot + 1)..<secondDot].withUnsafeBytes(Base64URL.decode) else {
            throw TokenError.malformed("payload is not base64url")
        }
        guard let signature = bytes[(secondDot + 1)...].withUnsafeBytes(Base64URL.decode) else {
            throw TokenError.malformed("signature is not base64url")
        }
        guard let header = Header(json: headerBytes) else {
            throw TokenError.malformed("header is not a JSON object")
        }
        return Parts(header: header, payload: payload, signature: signature, signingInput: Array(bytes[..<secondDot]))
    }

    /// Decodes header and payload without verifying anything (for `token inspect`).
    public static func unverifiedSegments(
        _ token: String, maxLength: Int = defaultMaxTokenLength
    ) throws(TokenError) -> (header: [UInt8], payload: [UInt8]) {
        let parts = try parse(token, maxLength: maxLength)
        let headerSegment = parts.signingInput.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)[0]
        return (headerSegment.withUnsafeBytes(Base64URL.decode) ?? [], parts.payload)
    }
}

/// Verifies EdDSA JWT identity assertions against known keys and the claims policy.
public struct JWTVerifier: Sendable {
    public var keys: VerificationKeys
    public var policy: ClaimsPolicy
    public var maxTokenLength: Int

    public init(keys: VerificationKeys, policy: ClaimsPolicy, maxTokenLength: Int = JWT.defaultMaxTokenLength) {
        self.keys = keys
        self.policy = policy
        self.maxTokenLength = maxTokenLength
    }

    /// Header and signature checks; returns the authenticated payload and key id.
    public func verifySignature(_ token: String) throws(TokenError) -> (payload: [UInt8], keyID: String) {
        let parts = try JWT.parse(token, maxLength: maxTokenLength)
        guard let alg = parts.header.alg else { throw TokenError.unsupportedAlgorithm("(missing)") }
        guard alg == "EdDSA" else { throw TokenError.unsupportedAlgorithm(alg) }
        guard !parts.header.hasCrit else { throw TokenError.unsupportedCriticalHeader }
        guard let kid = parts.header.kid else { throw TokenError.missingKeyID }
        let key = try keys.key(for: kid)
        let valid = parts.signature.withUnsafeBytes { key.isValidSignature($0, for: parts.signingInput) }
        guard valid else { throw TokenError.authenticationFailed }
        return (parts.payload, kid)
    }

    /// Full verification: header, signature, claims decoding and the claims policy at `now`.
    public func verify(_ token: String, now: Date) throws(TokenError) -> Claims {
        let claims = try ClaimsCodec.decode(try verifySignature(token).payload, as: .jwt)
        try policy.validate(claims, now: now)
        return claims
    }
}
