import Foundation

/// Lifecycle of a signing key: published first, then signs, then only verifies, then is destroyed.
public enum KeyState: String, Codable, Sendable {
    /// Published in JWKS so every verifier caches it before it signs anything.
    case next
    /// The one key that signs new tokens.
    case active
    /// No longer signs; still verifies until every token it signed has expired.
    case retiring
    /// Secret destroyed; kept briefly for the audit trail, never used.
    case retired
}

/// One signing key as stored: public half in clear, seed sealed under the master key.
public struct KeyRecord: Codable, Sendable, Equatable {
    /// PASERK `k4.pid` of the public key.
    public var id: String
    /// PASERK `k4.public` of the public key.
    public var publicKey: String
    /// The Ed25519 seed sealed with the master key (associated data: `id`); nil once retired.
    public var sealedSeed: SealedSecret?
    public var state: KeyState
    public var createdAt: Date
    public var activatedAt: Date?
    public var retiringAt: Date?
    public var retiredAt: Date?
    /// Proof under the master key that Portcullis wrote this record (`KeyRecordAuthentication`);
    /// nil on records written before records carried one, until they are stamped.
    public var authenticator: String?

    /// Generates a key pair and seals its seed.
    public static func generate(masterKey: MasterKey, now: Date, state: KeyState) throws(TokenError) -> KeyRecord {
        let secret = try Ed25519SecretKey.generate()
        var seed = secret.seed()
        defer { Sodium.wipe(&seed) }
        let id = secret.publicKey.keyID
        return KeyRecord(
            id: id, publicKey: secret.publicKey.paserk, sealedSeed: masterKey.seal(seed, context: id),
            state: state, createdAt: now, activatedAt: state == .active ? now : nil
        ).authenticated(under: masterKey)
    }
}

/// When keys rotate and how long old ones keep verifying.
public struct RotationPolicy: Sendable {
    /// How long a key stays active.
    public var rotationPeriod: TimeInterval
    /// How long before activation the next key is published (must exceed JWKS cache lifetimes).
    public var publishLead: TimeInterval
    /// Longest lifetime of any token these keys sign (the claims policy's `maxLifetime`).
    public var maxTokenLifetime: TimeInterval
    /// Allowed clock disagreement, added to the verification window of retiring keys.
    public var clockSkew: TimeInterval
    /// How long retired records (secret already destroyed) stay listed before removal.
    public var retiredRetention: TimeInterval

    public init(
        rotationPeriod: TimeInterval = 7 * 86_400, publishLead: TimeInterval = 86_400,
        maxTokenLifetime: TimeInterval = 3600, clockSkew: TimeInterval = 30,
        retiredRetention: TimeInterval = 30 * 86_400
    ) {
        self.rotationPeriod = rotationPeriod
        self.publishLead = min(publishLead, rotationPeriod)
        self.maxTokenLifetime = maxTokenLifetime
        self.clockSkew = clockSkew
        self.retiredRetention = retiredRetention
    }
}

/// The set of signing keys and their states.
///
/// `rotated(now:policy:force:mint:)` is a function of the ring, the time and the policy (plus
/// fresh keys from `mint`), so rotation is tested by passing times, not by sleeping.
public struct KeyRing: Codable, Sendable, Equatable {
    public var records: [KeyRecord]

    public init(records: [KeyRecord] = []) { self.records = records }

    /// The signing key's record, if any.
    public var active: KeyRecord? { records.first { $0.state == .active } }

    /// Applies every transition due at `now`:
    /// retiring keys whose tokens have all expired become retired (seed destroyed); retired
    /// records past retention are dropped; the active key past its period (or on `force`) gives
    /// way to the published next key; a next key is minted once within `publishLead` of the
    /// rollover. With no active key at all (bootstrap), one is minted and activated at once.
    /// A forced rotation never activates a key that was not published first: if no next key
    /// exists it only publishes one.
    public func rotated(
        now: Date, policy: RotationPolicy, force: Bool = false,
        mint: (KeyState) throws(TokenError) -> KeyRecord
    ) throws(TokenError) -> KeyRing {
        var records = self.records
        let verifyWindow = policy.maxTokenLifetime + policy.clockSkew
        for index in records.indices where records[index].state == .retiring {
            if let since = records[index].retiringAt, now.timeIntervalSince(since) >= verifyWindow {
                records[index].state = .retired
                records[index].retiredAt = now
                records[index].sealedSeed = nil
            }
        }
        records.removeAll { $0.state == .retired && now.timeIntervalSince($0.retiredAt ?? now) >= policy.retiredRetention }

        let activeIndex = records.firstIndex { $0.state == .active }
        let nextIndex = records.firstIndex { $0.state == .next }
        if let activeIndex {
            let activatedAt = records[activeIndex].activatedAt ?? records[activeIndex].createdAt
            let due = force || now.timeIntervalSince(activatedAt) >= policy.rotationPeriod
            if due, let nextIndex {
                records[activeIndex].state = .retiring
                records[activeIndex].retiringAt = now
                records[nextIndex].state = .active
                records[nextIndex].activatedAt = now
            }
        } else if let nextIndex {
            records[nextIndex].state = .active
            records[nextIndex].activatedAt = now
        } else {
            records.append(try mint(.active))
        }

        if !records.contains(where: { $0.state == .next }), let active = records.first(where: { $0.state == .active }) {
            let activatedAt = active.activatedAt ?? active.createdAt
            if force || now.timeIntervalSince(activatedAt) >= policy.rotationPeriod - policy.publishLead {
                records.append(try mint(.next))
            }
        }
        return KeyRing(records: records)
    }

    /// Public keys that verify: next (published ahead), active and retiring.
    public func verificationKeys() throws(TokenError) -> VerificationKeys {
        var keys = [Ed25519PublicKey]()
        for record in records where record.state != .retired {
            keys.append(try Ed25519PublicKey(paserk: record.publicKey))
        }
        return VerificationKeys(keys)
    }

    /// Unseals the active key. Fails clearly on a wrong master key or a record whose sealed
    /// seed does not produce its recorded public key.
    public func signer(masterKey: MasterKey) throws(KeyRingError) -> TokenSigner {
        guard let active, let sealed = active.sealedSeed else { throw KeyRingError.noActiveKey }
        var seed = try masterKey.open(sealed, context: active.id)
        defer { Sodium.wipe(&seed) }
        guard let key = try? Ed25519SecretKey(seed: seed), key.publicKey.keyID == active.id else {
            throw KeyRingError.corruptRecord(active.id)
        }
        return TokenSigner(key: key)
    }
}

/// Where sealed key records live. The file store serves single nodes and the CLI; the
/// identity service can implement this over PostgreSQL. Records hold only sealed secrets.
public protocol KeyRingStore: Sendable {
    func load() async throws(KeyRingError) -> KeyRing
    func save(_ ring: KeyRing) async throws(KeyRingError)
    /// Reads the ring, applies `change` and saves the result if it differs, as one step with
    /// respect to other writers of the same store (several identity replicas may rotate at
    /// once; only one rotation may win). Returns the ring before and after.
    func update(
        _ change: @Sendable (KeyRing) throws(KeyRingError) -> KeyRing
    ) async throws(KeyRingError)
        -> (before: KeyRing, after: KeyRing)
}

extension KeyRingStore {
    /// Load, change, save: enough for a store with a single writer (the file store).
    public func update(
        _ change: @Sendable (KeyRing) throws(KeyRingError) -> KeyRing
    ) async throws(KeyRingError)
        -> (before: KeyRing, after: KeyRing)
    {
        let before = try await load()
        let after = try change(before)
        if after != before { try await save(after) }
        return (before, after)
    }
}
