import Foundation

/// The set of Ed25519 public keys a verifier trusts, indexed by PASERK `k4.pid` key id.
///
/// The key id in a token is the *only* thing that selects a key; unknown ids are rejected.
/// Import and export as JWKS (RFC 7517 / RFC 8037 `OKP` keys) and as PASERK `k4.public`.
public struct VerificationKeys: Sendable {
    /// Keys by `k4.pid` id.
    public let byID: [String: Ed25519PublicKey]

    public init(_ keys: [Ed25519PublicKey]) {
        byID = Dictionary(keys.map { ($0.keyID, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Looks up a key by id.
    public func key(for id: String) throws(TokenError) -> Ed25519PublicKey {
        guard let key = byID[id] else { throw TokenError.unknownKeyID(id) }
        return key
    }

    private struct JWK: Codable {
        let kty: String
        let crv: String?
        let x: String?
        let kid: String?
        let alg: String?
        let use: String?
    }

    private struct JWKSet: Codable { let keys: [JWK] }

    /// JWKS document for `/.well-known/jwks.json`, keys sorted by id for stable output.
    public func jwks() -> Data {
        let keys = byID.sorted { $0.key < $1.key }.map { id, key in
            JWK(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(key.bytes), kid: id, alg: "EdDSA", use: "sig")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try! encoder.encode(JWKSet(keys: keys))
    }

    /// `{"keys":[{"kid":"k4.pid…","paserk":"k4.public…"}]}`: the PASERK form of the key set for
    /// PASETO verifiers, published beside the JWKS.
    public func paserkDocument() -> Data {
        let keys = byID.sorted { $0.key < $1.key }.map { PaserkEntry(kid: $0.key, paserk: $0.value.paserk) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try! encoder.encode(PaserkSet(keys: keys))
    }

    /// One `k4.public.` PASERK per line.
    public func paserkLines() -> String {
        byID.sorted { $0.key < $1.key }.map { $0.value.paserk + "\n" }.joined()
    }

    /// Parses a JWKS document. Only Ed25519 signature keys are accepted; a `kid` that does not
    /// match the key's own `k4.pid` is rejected so a JWKS cannot alias one key under another id.
    public init(jwks: Data) throws(TokenError) {
        let set: JWKSet
        do { set = try JSONDecoder().decode(JWKSet.self, from: jwks) } catch {
            throw TokenError.invalidKey("not a JWKS document (expected {\"keys\":[...]})")
        }
        var keys = [Ed25519PublicKey]()
        for jwk in set.keys {
            guard jwk.kty == "OKP", jwk.crv == "Ed25519" else { throw TokenError.invalidKey("JWK must be kty OKP, crv Ed25519") }
            if let alg = jwk.alg, alg != "EdDSA" { throw TokenError.invalidKey("JWK alg must be EdDSA") }
            if let use = jwk.use, use != "sig" { throw TokenError.invalidKey("JWK use must be sig") }
            guard let x = jwk.x, let raw = Base64URL.decode(x) else { throw TokenError.invalidKey("JWK x is not base64url") }
            let key = try Ed25519PublicKey(bytes: raw)
            if let kid = jwk.kid, kid != key.keyID { throw TokenError.invalidKey("JWK kid does not match the key's k4.pid") }
            keys.append(key)
        }
        self.init(keys)
    }

    /// Parses `k4.public.` PASERKs, one per line (blank lines and `#` comments ignored).
    public init(paserkLines text: String) throws(TokenError) {
        var keys = [Ed25519PublicKey]()
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            keys.append(try Ed25519PublicKey(paserk: trimmed))
        }
        self.init(keys)
    }

    /// Either format, detected by the first non-blank character.
    public init(document: Data) throws(TokenError) {
        let text = String(decoding: document, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("{") else {
            try self.init(paserkLines: text)
            return
        }
        if let set = try? JSONDecoder().decode(PaserkSet.self, from: document) {
            var keys: [Ed25519PublicKey] = []
            for entry in set.keys {
                let key = try Ed25519PublicKey(paserk: entry.paserk)
                guard key.keyID == entry.kid else { throw TokenError.invalidKey("kid does not match the key it names") }
                keys.append(key)
            }
            self.init(keys)
        } else {
            try self.init(jwks: document)
        }
    }
}

private struct PaserkEntry: Codable {
    var kid: String
    var paserk: String
}

private struct PaserkSet: Codable {
    var keys: [PaserkEntry]
}
