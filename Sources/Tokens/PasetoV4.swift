import CSodium
import Foundation

/// A PASETO whose signature or MAC has been checked: the payload is authentic.
public struct VerifiedPaseto: Sendable, Equatable {
    /// Authenticated message bytes (for Portcullis, a JSON claims object).
    public let payload: [UInt8]
    /// Authenticated footer bytes (for Portcullis, `{"kid":"k4.pid..."}`).
    public let footer: [UInt8]
}

/// PASETO version 4 (docs/01-Protocol-Versions/Version4.md of the PASETO specification).
///
/// The version and purpose are fixed by which function the caller picks; nothing inside the
/// token can switch algorithms. Sizes are checked before any decoding or cryptography.
public enum PasetoV4 {
    static let publicHeader = Array("v4.public.".utf8)
    static let localHeader = Array("v4.local.".utf8)
    /// Default upper bound on a token's length, in bytes.
    public static let defaultMaxTokenLength = 8 * 1024

    // MARK: v4.public

    /// Signs `message` (spec: v4.Sign). `implicit` is authenticated but not transmitted.
    public static func sign(
        _ message: [UInt8], with key: Ed25519SecretKey,
        footer: [UInt8] = [], implicit: [UInt8] = []
    ) -> String {
        let signature = key.sign(PAE.encode(publicHeader, message, footer, implicit))
        return assemble(header: publicHeader, body: message + signature, footer: footer)
    }

    /// Verifies a `v4.public.` token with one specific key (spec: v4.Verify).
    public static func verify(
        _ token: String, with key: Ed25519PublicKey, implicit: [UInt8] = [],
        maxLength: Int = defaultMaxTokenLength
    ) throws(TokenError) -> VerifiedPaseto {
        try verify(try parse(token, purpose: .public, maxLength: maxLength), with: key, implicit: implicit)
    }

    /// Verifies an already split public token, so callers that read the footer first decode once.
    static func verify(_ parts: Parsed, with key: Ed25519PublicKey, implicit: [UInt8]) throws(TokenError) -> VerifiedPaseto {
        let signatureLength = crypto_sign_bytes()
        guard parts.body.count >= signatureLength else { throw TokenError.malformed("v4.public body shorter than a signature") }
        let messageEnd = parts.body.count - signatureLength
        let message = Array(parts.body[0..<messageEnd])
        let signed = PAE.encode(publicHeader, message, parts.footer, implicit)
        let valid = parts.body.withUnsafeBytes { body in
            key.isValidSignature(UnsafeRawBufferPointer(rebasing: body[messageEnd...]), for: signed)
        }
        guard valid else { throw TokenError.authenticationFailed }
        return VerifiedPaseto(payload: message, footer: parts.footer)
    }

    // MARK: v4.local

    /// Encrypts `message` with a fresh random 32-byte nonce (spec: v4.Encrypt).
    public static func encrypt(
        _ message: [UInt8], with key: PasetoLocalKey,
        footer: [UInt8] = [], implicit: [UInt8] = []
    ) throws(TokenError) -> String {
        try Sodium.ensureReady()
        return encrypt(message, with: key, footer: footer, implicit: implicit, nonce: Sodium.randomBytes(32))
    }

    /// Deterministic core of `encrypt`, exposed to tests for the official vectors.
    static func encrypt(
        _ message: [UInt8], with key: PasetoLocalKey, footer: [UInt8], implicit: [UInt8],
        nonce: [UInt8]
    ) -> String {
        var keys = deriveLocalKeys(key, nonce: nonce)
        defer { keys.wipe() }
        var ciphertext = [UInt8](repeating: 0, count: message.count)
        _ = crypto_stream_xchacha20_xor(&ciphertext, message, UInt64(message.count), keys.n2, keys.ek)
        let tag = Sodium.blake2b(outputLength: 32, key: keys.ak, PAE.encode(localHeader, nonce, ciphertext, footer, implicit))
        return assemble(header: localHeader, body: nonce + ciphertext + tag, footer: footer)
    }

    /// Authenticates then decrypts a `v4.local.` token (spec: v4.Decrypt): the tag is checked
    /// in constant time before any plaintext is produced.
    public static func decrypt(
        _ token: String, with key: PasetoLocalKey, implicit: [UInt8] = [],
        maxLength: Int = defaultMaxTokenLength
    ) throws(TokenError) -> VerifiedPaseto {
        try decrypt(try parse(token, purpose: .local, maxLength: maxLength), with: key, implicit: implicit)
    }

    /// Decrypts an already split local token.
    static func decrypt(_ parts: Parsed, with key: PasetoLocalKey, implicit: [UInt8]) throws(TokenError) -> VerifiedPaseto {
        guard parts.body.count >= 64 else { throw TokenError.malformed("v4.local body shorter than nonce and tag") }
        let nonce = Array(parts.body[0..<32])
        let ciphertext = Array(parts.body[32..<(parts.body.count - 32)])
        let tag = Array(parts.body[(parts.body.count - 32)...])
        var keys = deriveLocalKeys(key, nonce: nonce)
        defer { keys.wipe() }
        let expected = Sodium.blake2b(outputLength: 32, key: keys.ak, PAE.encode(localHeader, nonce, ciphertext, parts.footer, implicit))
        guard Sodium.constantTimeEqual(expected, tag) else { throw TokenError.authenticationFailed }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        _ = crypto_stream_xchacha20_xor(&plaintext, ciphertext, UInt64(ciphertext.count), keys.n2, keys.ek)
        return VerifiedPaseto(payload: plaintext, footer: parts.footer)
    }

    private struct LocalKeys {
        var ek: [UInt8], n2: [UInt8], ak: [UInt8]
        mutating func wipe() {
            Sodium.wipe(&ek)
            Sodium.wipe(&n2)
            Sodium.wipe(&ak)
        }
    }

    /// Ek || n2 = BLAKE2b-448(key: k, "paseto-encryption-key" || n); Ak = BLAKE2b-256(key: k, "paseto-auth-key-for-aead" || n).
    private static func deriveLocalKeys(_ key: PasetoLocalKey, nonce: [UInt8]) -> LocalKeys {
        var raw = key.secret.copy()
        defer { Sodium.wipe(&raw) }
        var tmp = Sodium.blake2b(outputLength: 56, key: raw, Array("paseto-encryption-key".utf8), nonce)
        defer { Sodium.wipe(&tmp) }
        let ak = Sodium.blake2b(outputLength: 32, key: raw, Array("paseto-auth-key-for-aead".utf8), nonce)
        return LocalKeys(ek: Array(tmp[0..<32]), n2: Array(tmp[32..<56]), ak: ak)
    }

    // MARK: structure

    /// The two v4 purposes; the verifier chooses, never the token.
    public enum Purpose: Sendable {
        case local, `public`
        var header: [UInt8] { self == .local ? PasetoV4.localHeader : PasetoV4.publicHeader }
    }

    /// A token split into its decoded (still unauthenticated) body and footer.
    public struct Parsed: Sendable {
        let body: [UInt8]
        /// The footer, for key selection only until the token is verified.
        public let footer: [UInt8]
    }

    /// Checks size and header, then decodes body and footer. Nothing is authenticated yet.
    public static func parse(_ token: String, purpose: Purpose, maxLength: Int = defaultMaxTokenLength) throws(TokenError) -> Parsed {
        let size = token.utf8.count
        guard size <= maxLength else { throw TokenError.tooLarge(size: size, limit: maxLength) }
        let header = purpose.header
        let bytes = Array(token.utf8)
        guard bytes.starts(with: header) else { throw TokenError.wrongHeader(expected: String(decoding: header, as: UTF8.self)) }
        let rest = bytes[header.count...]
        let dot = rest.firstIndex(of: UInt8(ascii: "."))
        let bodyText = rest[..<(dot ?? rest.endIndex)]
        let footerText = dot.map { rest[($0 + 1)...] } ?? []
        if footerText.contains(UInt8(ascii: ".")) { throw TokenError.malformed("too many segments") }
        if dot != nil && footerText.isEmpty { throw TokenError.malformed("empty footer segment") }
        guard let body = bodyText.withUnsafeBytes(Base64URL.decode) else { throw TokenError.malformed("body is not base64url") }
        guard let footer = footerText.withUnsafeBytes(Base64URL.decode) else { throw TokenError.malformed("footer is not base64url") }
        return Parsed(body: body, footer: footer)
    }

    /// Decodes the message of a v4.public token WITHOUT checking the signature (for `token inspect`).
    public static func unverifiedPublicPayload(_ token: String, maxLength: Int = defaultMaxTokenLength) throws(TokenError) -> VerifiedPaseto {
        let parts = try parse(token, purpose: .public, maxLength: maxLength)
        guard parts.body.count >= crypto_sign_bytes() else { throw TokenError.malformed("v4.public body shorter than a signature") }
        return VerifiedPaseto(payload: Array(parts.body.dropLast(crypto_sign_bytes())), footer: parts.footer)
    }

    private static func assemble(header: [UInt8], body: [UInt8], footer: [UInt8]) -> String {
        let base = String(decoding: header, as: UTF8.self) + Base64URL.encode(body)
        return footer.isEmpty ? base : base + "." + Base64URL.encode(footer)
    }
}
