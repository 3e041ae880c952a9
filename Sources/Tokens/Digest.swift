/// BLAKE2b for other modules (the audit hash chain, cache keys), so that libsodium stays
/// the one crypto provider and only this module touches it.
public enum Digest {
    /// BLAKE2b-256 over the concatenation of `parts`.
    public static func blake2b256(_ parts: [[UInt8]]) -> [UInt8] {
        Sodium.blake2b(outputLength: 32, key: nil, parts: parts)
    }
}
