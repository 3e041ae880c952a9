import Foundation
import _CryptoExtras

/// An RSA key for RS256 JSON Web Tokens (RFC 7518 §3.3): what OpenID Connect requires every
/// provider to offer, so every client library can verify Portcullis's id_tokens. RSA comes from
/// swift-crypto's extras; everything else in this module stays on libsodium.
public struct RSASigningKey: RingSigningKey {
    private let key: _RSA.Signing.PrivateKey
    /// RFC 7638 thumbprint of the public key: the `kid`.
    public let keyID: String

    public static func generate() throws(TokenError) -> RSASigningKey {
        do { return try RSASigningKey(key: _RSA.Signing.PrivateKey(keySize: .bits2048)) } catch {
            throw .invalidKey("RSA key generation failed: \(error)")
        }
    }

    /// From the PKCS #1 DER form `secret` returns.
    public init(secret der: [UInt8]) throws(TokenError) {
        do { try self.init(key: _RSA.Signing.PrivateKey(derRepresentation: der)) } catch {
            throw .invalidKey("not an RSA private key: \(error)")
        }
    }

    private init(key: _RSA.Signing.PrivateKey) throws(TokenError) {
        guard key.keySizeInBits >= 2048 else { throw .invalidKey("RSA keys must have at least 2048 bits") }
        self.key = key
        self.keyID = try Self.thumbprint(of: key.publicKey)
    }

    /// The private key as PKCS #1 DER, for sealing.
    public var secret: [UInt8] { Array(key.derRepresentation) }

    /// The public key as a JWK (`kty: RSA`, `alg: RS256`, `use: sig`).
    public func jwk() throws(TokenError) -> [String: String] {
        let (n, e) = try Self.primitives(key.publicKey)
        return ["kty": "RSA", "n": n, "e": e, "kid": keyID, "alg": "RS256", "use": "sig"]
    }

    /// A compact JWS over `payload` (a JSON object's bytes), `alg: RS256`, `typ` as given.
    public func jws(_ payload: [UInt8], type: String = "JWT") throws(TokenError) -> String {
        let header = Array(#"{"alg":"RS256","kid":"\#(keyID)","typ":"\#(type)"}"#.utf8)
        let signingInput = Base64URL.encode(header) + "." + Base64URL.encode(payload)
        do {
            let signature = try key.signature(for: Array(signingInput.utf8), padding: .insecurePKCS1v1_5)
            return signingInput + "." + Base64URL.encode(Array(signature.rawRepresentation))
        } catch {
            throw .invalidKey("RSA signing failed: \(error)")
        }
    }

    /// The payload of an RS256 compact JWS signed by one of `keys` (public JWKs, by `kid`), whose
    /// header names `type`; nil for anything else.
    public static func verifiedPayload(_ jws: String, keys: [[String: String]], type: String) -> [UInt8]? {
        let parts = jws.split(separator: ".", omittingEmptySubsequences: false)
        guard jws.utf8.count <= 16 * 1024, parts.count == 3, let headerBytes = Base64URL.decode(String(parts[0])),
            let header = JSONValue.parse(headerBytes), case .object = header, case .string("RS256")? = header["alg"],
            case .string(type)? = header["typ"], header["crit"] == nil, case let .string(kid)? = header["kid"],
            let jwk = keys.first(where: { $0["kid"] == kid }), let n = jwk["n"].flatMap(Base64URL.decode),
            let e = jwk["e"].flatMap(Base64URL.decode), let key = try? _RSA.Signing.PublicKey(n: n, e: e),
            let signature = Base64URL.decode(String(parts[2])), let payload = Base64URL.decode(String(parts[1]))
        else { return nil }
        let signingInput = Array(jws.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: signingInput, padding: .insecurePKCS1v1_5)
        else { return nil }
        return payload
    }

    private static func primitives(_ key: _RSA.Signing.PublicKey) throws(TokenError) -> (n: String, e: String) {
        do {
            let primitives = try key.getKeyPrimitives()
            return (Base64URL.encode(Array(primitives.modulus)), Base64URL.encode(Array(primitives.publicExponent)))
        } catch {
            throw .invalidKey("RSA public key: \(error)")
        }
    }

    /// SHA-256 over the required members in lexicographic order, without whitespace (RFC 7638 §3).
    private static func thumbprint(of key: _RSA.Signing.PublicKey) throws(TokenError) -> String {
        let (n, e) = try primitives(key)
        return Base64URL.encode(Digest.sha256(Array(#"{"e":"\#(e)","kty":"RSA","n":"\#(n)"}"#.utf8)))
    }
}
