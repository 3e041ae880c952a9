/// The authenticator of a public key kept in the audit's key archive (`audit_signing_keys`): a
/// keyed BLAKE2b-256 under a subkey of the master key over its id and PASERK, so a key a
/// database writer adds there is not trusted to verify a checkpoint.
public enum ArchivedKeyAuthentication {
    public static func authenticator(for key: Ed25519PublicKey, masterKey: MasterKey) -> String {
        masterKey.authenticator(purpose: "audit-key-archive", message(key))
    }

    public static func isAuthentic(_ key: Ed25519PublicKey, authenticator: String, masterKey: MasterKey) -> Bool {
        masterKey.vouches(for: message(key), purpose: "audit-key-archive", authenticator: authenticator)
    }

    private static func message(_ key: Ed25519PublicKey) -> [UInt8] {
        Array("\(key.keyID)\n\(key.paserk)".utf8)
    }
}
