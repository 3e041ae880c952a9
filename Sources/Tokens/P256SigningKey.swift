import Crypto
import Foundation

/// A P-256 key for ES256 JSON Web Tokens (RFC 7518 §3.4), for OpenID clients that ask for
/// ES256 id_tokens. From swift-crypto, like RSA.
public struct P256SigningKey: RingSigningKey {
    private let key: P256.Signing.PrivateKey
    /// RFC 7638 thumbprint of the public key: the `kid`.
    public let keyID: String

    public static func generate() -> P256SigningKey { P256SigningKey(key: P256.Signing.PrivateKey()) }

    /// From the raw scalar `secret` returns.
    public init(secret raw: [UInt8]) throws(TokenError) {
        do { self.init(key: try P256.Signing.PrivateKey(rawRepresentation: raw)) } catch {
            throw .invalidKey("not a P-256 private key: \(error)")
        }
    }

    private init(key: P256.Signing.PrivateKey) {
        self.key = key
        let (x, y) = Self.coordinates(key.publicKey)
        keyID = Base64URL.encode(Digest.sha256(Array(#"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#.utf8)))
    }

    /// The private scalar, for sealing.
    public var secret: [UInt8] { Array(key.rawRepresentation) }

    /// The public key as a JWK (`kty: EC`, `crv: P-256`, `alg: ES256`, `use: sig`).
    public func jwk() -> [String: String] {
        let (x, y) = Self.coordinates(key.publicKey)
        return ["kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": keyID, "alg": "ES256", "use": "sig"]
    }

    /// A compact JWS over `payload`, `alg: ES256` (the signature is r ‖ s, RFC 7518 §3.4).
    public func jws(_ payload: [UInt8], type: String = "JWT") throws(TokenError) -> String {
        let header = Array(#"{"alg":"ES256","kid":"\#(keyID)","typ":"\#(type)"}"#.utf8)
        let signingInput = Base64URL.encode(header) + "." + Base64URL.encode(payload)
        do {
            return signingInput + "." + Base64URL.encode(Array(try key.signature(for: Array(signingInput.utf8)).rawRepresentation))
        } catch {
            throw .invalidKey("P-256 signing failed: \(error)")
        }
    }

    /// The uncompressed point's x and y, base64url.
    private static func coordinates(_ key: P256.Signing.PublicKey) -> (x: String, y: String) {
        let point = Array(key.rawRepresentation)
        return (Base64URL.encode(point.prefix(32)), Base64URL.encode(point.suffix(32)))
    }
}
