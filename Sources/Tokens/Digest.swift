import CSodium

/// BLAKE2b (and SHA-256 where a standard asks for it) for other modules (the audit hash chain, cache keys), so that libsodium stays
/// the one crypto provider and only this module touches it.
public enum Digest {
    /// BLAKE2b-256 over the concatenation of `parts`.
    public static func blake2b256(_ parts: [[UInt8]]) -> [UInt8] {
        Sodium.blake2b(outputLength: 32, key: nil, parts: parts)
    }

    /// SHA-512, where a standard names it (OpenID's `at_hash` beside an Ed25519 signature).
    public static func sha512(_ bytes: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 64)
        _ = crypto_hash_sha512(&output, bytes, UInt64(bytes.count))
        return output
    }

    /// SHA-256, where a standard names it (PKCE's S256, RFC 7636 §4.2; OpenID's `at_hash`).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 32)
        _ = crypto_hash_sha256(&output, bytes, UInt64(bytes.count))
        return output
    }
}
