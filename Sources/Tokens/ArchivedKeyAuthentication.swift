/// The authenticator of a public key kept in the audit's key archive (`audit_signing_keys`): a
/// keyed BLAKE2b-256 under a subkey of the master key over its id and PASERK, so a key a
/// database writer adds there is not trusted to verify a checkpoint.
public enum ArchivedKeyAuthentication {
    public static func authenticator(for key: Ed25519PublicKey, masterKey: MasterKey) -> String {
        var subkey = masterKey.derivedKey(purpose: "audit-key-archive")
        defer { Sodium.wipe(&subkey) }
        return Base64URL.encode(Sodium.blake2b(outputLength: 32, key: subkey, Array("\(key.keyID)\n\(key.paserk)".utf8)))
    }

    public static func isAuthentic(_ key: Ed25519PublicKey, authenticator: String, masterKey: MasterKey) -> Bool {
        SecretComparison.equal(authenticator, Self.authenticator(for: key, masterKey: masterKey))
    }
}
