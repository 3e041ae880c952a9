import CSodium
import Foundation

/// Mints Portcullis tokens with one signing key; the key id goes in the PASETO footer and
/// the JWT header so verifiers can select the key without trying several.
public struct TokenSigner: Sendable {
    public let key: Ed25519SecretKey

    public init(key: Ed25519SecretKey) { self.key = key }

    /// PASETO v4.public access or service token with footer `{"kid":"k4.pid..."}`.
    public func paseto(_ claims: Claims, implicit: [UInt8] = []) -> String {
        PasetoV4.sign(
            ClaimsCodec.encode(claims, as: .paseto), with: key, footer: KeyIDFooter.encode(key.publicKey.keyID),
            implicit: implicit)
    }

    /// EdDSA JWT identity assertion for upstream services (`alg: EdDSA`, `kid`).
    public func jwt(_ claims: Claims) -> String {
        JWT.sign(ClaimsCodec.encode(claims, as: .jwt), with: key)
    }

    /// An EdDSA JWT over any JSON object's bytes (the OpenID provider's id_tokens carry claims
    /// `Claims` does not model).
    public func jwt(payload: [UInt8]) -> String {
        JWT.sign(payload, with: key)
    }
}

/// The `{"kid":"..."}` footer. Parsed with a size cap before JSON decoding, per the PASETO
/// guidance on untrusted footers.
enum KeyIDFooter {
    static let maxLength = 512

    static func encode(_ keyID: String) -> [UInt8] { Array("{\"kid\":\"\(keyID)\"}".utf8) }

    static func keyID(in footer: [UInt8], expectedPrefix: String) throws(TokenError) -> String {
        guard !footer.isEmpty else { throw TokenError.missingKeyID }
        guard footer.count <= maxLength else { throw TokenError.malformed("footer longer than \(maxLength) bytes") }
        guard case let .string(kid)? = JSONValue.parse(footer)?["kid"] else { throw TokenError.missingKeyID }
        guard kid.hasPrefix(expectedPrefix) else { throw TokenError.keyIDPurposeMismatch(expected: expectedPrefix) }
        return kid
    }
}

/// Verifies PASETO v4.public access and service tokens: footer key id selects the key, then
/// the signature, then the claims policy.
public struct PasetoPublicVerifier: Sendable {
    public var keys: VerificationKeys
    public var policy: ClaimsPolicy
    /// Tokens longer than this are rejected before any decoding.
    public var maxTokenLength: Int
    /// Implicit assertion both sides agree on (e.g. the token's intended use); empty by default.
    public var implicit: [UInt8]

    public init(
        keys: VerificationKeys, policy: ClaimsPolicy, maxTokenLength: Int = PasetoV4.defaultMaxTokenLength,
        implicit: [UInt8] = []
    ) {
        self.keys = keys
        self.policy = policy
        self.maxTokenLength = maxTokenLength
        self.implicit = implicit
    }

    /// Signature check only; returns the authenticated payload and the key id that verified it.
    public func verifySignature(_ token: String) throws(TokenError) -> (payload: [UInt8], keyID: String) {
        let parts = try PasetoV4.parse(token, purpose: .public, maxLength: maxTokenLength)
        let kid = try KeyIDFooter.keyID(in: parts.footer, expectedPrefix: "k4.pid.")
        let verified = try PasetoV4.verify(parts, with: try keys.key(for: kid), implicit: implicit)
        return (verified.payload, kid)
    }

    /// Full verification: signature, claims decoding, and the claims policy at `now`.
    public func verify(_ token: String, now: Date) throws(TokenError) -> Claims {
        let claims = try ClaimsCodec.decode(try verifySignature(token).payload, as: .paseto)
        try policy.validate(claims, now: now)
        return claims
    }
}

/// Seals and opens browser session cookies as PASETO v4.local tokens. Several keys may be
/// held for rotation; the footer's `k4.lid` picks one, and new cookies use `current`.
public struct SessionCookieCodec: Sendable {
    public let current: PasetoLocalKey
    private let byID: [String: PasetoLocalKey]
    public var policy: ClaimsPolicy
    public var maxTokenLength: Int
    /// Implicit assertion binding cookies to this use, so a v4.local token minted for another
    /// purpose with the same key does not open here.
    public var implicit: [UInt8]

    public init(
        current: PasetoLocalKey, previous: [PasetoLocalKey] = [], policy: ClaimsPolicy,
        maxTokenLength: Int = PasetoV4.defaultMaxTokenLength, implicit: [UInt8] = Array("portcullis-session".utf8)
    ) {
        self.current = current
        byID = Dictionary(([current] + previous).map { ($0.keyID, $0) }, uniquingKeysWith: { first, _ in first })
        self.policy = policy
        self.maxTokenLength = maxTokenLength
        self.implicit = implicit
    }

    public func seal(_ claims: Claims) throws(TokenError) -> String {
        try PasetoV4.encrypt(
            ClaimsCodec.encode(claims, as: .paseto), with: current, footer: KeyIDFooter.encode(current.keyID),
            implicit: implicit)
    }

    public func open(_ token: String, now: Date) throws(TokenError) -> Claims {
        let parts = try PasetoV4.parse(token, purpose: .local, maxLength: maxTokenLength)
        let kid = try KeyIDFooter.keyID(in: parts.footer, expectedPrefix: "k4.lid.")
        guard let key = byID[kid] else { throw TokenError.unknownKeyID(kid) }
        let claims = try ClaimsCodec.decode(try PasetoV4.decrypt(parts, with: key, implicit: implicit).payload, as: .paseto)
        try policy.validate(claims, now: now)
        return claims
    }
}
