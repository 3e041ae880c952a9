/// One-time MFA recovery codes.
///
/// Each code carries 80 random bits (16 base32 characters, shown as `XXXX-XXXX-XXXX-XXXX`).
/// They are stored as keyed BLAKE2b-256 (key = a server-side pepper held with the master
/// key, not in the database), not Argon2id: with 80 bits of entropy no dictionary or brute-force
/// attack is feasible even with a fast hash, and the key means a stolen database alone cannot
/// be tested offline at all, while checking a code stays cheap and cannot be used to burn CPU.
public struct RecoveryCodes: Sendable {
    private let pepper: SecretBytes

    /// `pepper` must be 32 random bytes kept outside the database.
    public init(pepper: [UInt8]) throws(TokenError) {
        guard pepper.count == 32 else { throw TokenError.invalidKey("recovery code pepper must be 32 bytes") }
        self.pepper = SecretBytes(pepper)
    }

    /// `count` fresh codes to show the user once, with the hashes to store.
    public func generate(count: Int = 10) -> [(code: String, hash: String)] {
        (0..<count).map { _ in
            let raw = Base32.encode(Sodium.randomBytes(10))
            let code = stride(from: 0, to: 16, by: 4).map { offset in
                String(raw.dropFirst(offset).prefix(4))
            }.joined(separator: "-")
            return (code, hash(code))
        }
    }

    /// The stored form of a code: base64url(BLAKE2b-256(key: pepper, normalised code)).
    /// Input is normalised (case, dashes, spaces) so users can type it loosely.
    public func hash(_ code: String) -> String {
        let normalised = Array(code.uppercased().utf8.filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: " ") })
        var key = pepper.copy()
        defer { Sodium.wipe(&key) }
        return Base64URL.encode(Sodium.blake2b(outputLength: 32, key: key, normalised))
    }

    /// Index of the stored hash that `code` matches (the caller deletes it: single use), or nil.
    /// Compares against every stored hash in constant time.
    public func match(_ code: String, storedHashes: [String]) -> Int? {
        guard code.utf8.count <= 64 else { return nil }
        let candidate = Array(hash(code).utf8)
        var found: Int?
        for (index, stored) in storedHashes.enumerated() where Sodium.constantTimeEqual(Array(stored.utf8), candidate) && found == nil {
            found = index
        }
        return found
    }
}
