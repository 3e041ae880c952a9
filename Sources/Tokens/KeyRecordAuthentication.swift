import Foundation

/// Key records are stored in the database, which its administrators (or whoever holds its
/// password) can write. A record carries an authenticator, a keyed BLAKE2b-256 under a subkey of
/// the master key over what names the key (id, public key, creation time), so a record inserted
/// or altered in the database, without the master key, is told apart: it is never published,
/// never trusted to verify a token or an audit checkpoint, and is reported.
extension KeyRecord {
    /// The authenticator of a record with these fields.
    static func authenticator(id: String, publicKey: String, createdAt: Date, masterKey: MasterKey) -> String {
        let created = Int64(createdAt.timeIntervalSince1970.rounded(.down))
        return masterKey.authenticator(purpose: "key-record", Array("portcullis-key-record\n\(id)\n\(publicKey)\n\(created)".utf8))
    }

    /// Whether the master key vouches for this record as it is.
    public func isAuthentic(under masterKey: MasterKey) -> Bool {
        guard let authenticator else { return false }
        return SecretComparison.equal(
            authenticator, Self.authenticator(id: id, publicKey: publicKey, createdAt: createdAt, masterKey: masterKey))
    }

    /// This record with its authenticator.
    public func authenticated(under masterKey: MasterKey) -> KeyRecord {
        var record = self
        record.authenticator = Self.authenticator(id: id, publicKey: publicKey, createdAt: createdAt, masterKey: masterKey)
        return record
    }
}

extension KeyRing {
    /// The records the master key vouches for, and the ids of the others.
    public func trusted(under masterKey: MasterKey) -> (ring: KeyRing, untrusted: [String]) {
        let trusted = records.filter { $0.isAuthentic(under: masterKey) }
        return (KeyRing(records: trusted), records.filter { !$0.isAuthentic(under: masterKey) }.map(\.id))
    }

    /// Applies `change` to the records the master key vouches for only, keeping the others as
    /// they are: a record inserted in the database is never rotated into use (a `next` one
    /// promoted to active would leave the ring without a signing key), and stays to be reported.
    public func changingTrusted(
        under masterKey: MasterKey, _ change: (KeyRing) throws(TokenError) -> KeyRing
    ) throws(TokenError) -> KeyRing {
        let untrusted = records.filter { !$0.isAuthentic(under: masterKey) }
        let changed = try change(KeyRing(records: records.filter { $0.isAuthentic(under: masterKey) }))
        return KeyRing(records: changed.records + untrusted)
    }

    /// Stamps the records written before records carried authenticators, each only once it
    /// proves itself: its sealed secret opens under the master key (sealed with its id) and
    /// `matches` finds that secret gives exactly the recorded public key. A retired record,
    /// whose secret is destroyed, cannot, and stays untrusted (it verifies nothing anyway).
    public func authenticatingUnstamped(masterKey: MasterKey, matches: (KeyRecord, [UInt8]) -> Bool) -> KeyRing {
        KeyRing(
            records: records.map { record in
                guard record.authenticator == nil, let sealed = record.sealedSeed,
                    var secret = try? masterKey.open(sealed, context: record.id)
                else { return record }
                defer { Sodium.wipe(&secret) }
                return matches(record, secret) ? record.authenticated(under: masterKey) : record
            })
    }
}

extension KeyRecord {
    /// Whether an Ed25519 seed gives this record's id and public key.
    public static func ed25519Matches(_ record: KeyRecord, seed: [UInt8]) -> Bool {
        guard let key = try? Ed25519SecretKey(seed: seed) else { return false }
        return key.publicKey.keyID == record.id && key.publicKey.paserk == record.publicKey
    }
}
