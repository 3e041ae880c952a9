/// Random bearer secrets that are looked up rather than verified: client secrets, refresh
/// tokens, MFA challenges, join tokens.
///
/// Each is 256 random bits, base64url, behind a short type prefix (`pcs_`, `pcr_`…) so a leaked
/// value is recognisable to secret scanners and one kind can never be presented as another.
/// Only `OpaqueSecretHasher.digest` of a secret is stored.
public enum OpaqueSecret {
    public static func generate(prefix: String) -> String {
        prefix + Base64URL.encode(Sodium.randomBytes(32))
    }
}

/// Keyed BLAKE2b-256 of opaque secrets. With 256-bit random inputs a fast hash is enough (no
/// guessing is feasible); the key, derived from the master key, means a copy of the database
/// alone cannot even confirm a secret offline. The digest is deterministic, so it is the
/// database lookup key and no constant-time comparison is needed.
public struct OpaqueSecretHasher: Sendable {
    private let key: SecretBytes

    /// `key` must be 32 bytes (e.g. `MasterKey.derivedKey(purpose:)`).
    public init(key: [UInt8]) throws(TokenError) {
        guard key.count == 32 else { throw TokenError.invalidKey("opaque secret hashing key must be 32 bytes") }
        self.key = SecretBytes(key)
    }

    public func digest(_ secret: String) -> [UInt8] {
        var keyBytes = key.copy()
        defer { Sodium.wipe(&keyBytes) }
        return Sodium.blake2b(outputLength: 32, key: keyBytes, Array(secret.utf8))
    }
}
