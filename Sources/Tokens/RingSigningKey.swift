import Foundation

/// A signing key of the OpenID provider's rings (RSA for RS256, P-256 for ES256): generated,
/// sealed under the master key as bytes, restored from them, published as a JWK.
public protocol RingSigningKey: Sendable {
    static func generate() throws(TokenError) -> Self
    init(secret: [UInt8]) throws(TokenError)
    /// The private key's bytes (sealed, never stored in clear).
    var secret: [UInt8] { get }
    /// RFC 7638 thumbprint of the public key.
    var keyID: String { get }
    func jwk() throws(TokenError) -> [String: String]
}

extension KeyRecord {
    /// A record of a new `Key`: its secret sealed like an Ed25519 seed, its public JWK in `publicKey`.
    public static func generate<Key: RingSigningKey>(
        _ type: Key.Type, masterKey: MasterKey, now: Date, state: KeyState
    ) throws(TokenError) -> KeyRecord {
        let key = try Key.generate()
        var secret = key.secret
        defer { Sodium.wipe(&secret) }
        let jwk = String(decoding: (try? JSONEncoder().encode(try key.jwk())) ?? Data(), as: UTF8.self)
        return KeyRecord(
            id: key.keyID, publicKey: jwk, sealedSeed: masterKey.seal(secret, context: key.keyID), state: state, createdAt: now,
            activatedAt: state == .active ? now : nil
        ).authenticated(under: masterKey)
    }

    /// Whether a `Key` secret gives this record's key id and public JWK.
    public static func matches<Key: RingSigningKey>(_ type: Key.Type, _ record: KeyRecord, secret: [UInt8]) -> Bool {
        guard let key = try? Key(secret: secret), key.keyID == record.id, let jwk = try? key.jwk(),
            let stored = try? JSONDecoder().decode([String: String].self, from: Data(record.publicKey.utf8))
        else { return false }
        return jwk == stored
    }
}

extension KeyRing {
    /// The active key, unsealed; fails clearly on a wrong master key or a record whose secret
    /// does not produce its recorded key id.
    public func signer<Key: RingSigningKey>(_ type: Key.Type, masterKey: MasterKey) throws(KeyRingError) -> Key {
        guard let active, let sealed = active.sealedSeed else { throw KeyRingError.noActiveKey }
        var secret = try masterKey.open(sealed, context: active.id)
        defer { Sodium.wipe(&secret) }
        guard let key = try? Key(secret: secret), key.keyID == active.id else { throw KeyRingError.corruptRecord(active.id) }
        return key
    }

    /// The public JWKs of the keys that verify: published ahead (`next`), active and retiring.
    public func publicJWKs() -> [[String: String]] {
        records.filter { $0.state != .retired }.compactMap { record in
            try? JSONDecoder().decode([String: String].self, from: Data(record.publicKey.utf8))
        }
    }
}
