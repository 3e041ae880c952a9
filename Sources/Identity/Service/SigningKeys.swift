import Foundation
import Synchronization
import Tokens

/// The current signers and verification keys, swapped as one value when a key ring changes
/// (rotation by any replica, announced by NOTIFY, or the periodic reload): the Ed25519 ring of
/// access tokens and assertions, and (when given stores for them) the OpenID provider's RSA
/// (RS256) and P-256 (ES256) rings.
public final class SigningKeys: Sendable {
    /// Where the OpenID provider's rings live.
    public struct OpenIDStores: Sendable {
        public let rs256: any KeyRingStore
        public let es256: any KeyRingStore

        public init(rs256: any KeyRingStore, es256: any KeyRingStore) {
            self.rs256 = rs256
            self.es256 = es256
        }
    }

    private struct Material: Sendable {
        var signer: TokenSigner?
        var keys: VerificationKeys
        var openIDSigner: RSASigningKey?
        var openIDP256Signer: P256SigningKey?
        var openIDKeys: [[String: String]] = []
    }

    private let material = Mutex(Material(signer: nil, keys: VerificationKeys([])))
    private let store: any KeyRingStore
    private let openIDStores: OpenIDStores?
    private let masterKey: MasterKey
    /// Told, at every refresh that finds them, the ids of key records the master key does not
    /// vouch for (inserted or altered in the database): they are left out of everything.
    private let reportUntrusted: @Sendable ([String]) -> Void

    public init(
        store: any KeyRingStore, masterKey: MasterKey, openIDStores: OpenIDStores? = nil,
        reportUntrusted: @escaping @Sendable ([String]) -> Void = { _ in }
    ) {
        self.store = store
        self.masterKey = masterKey
        self.openIDStores = openIDStores
        self.reportUntrusted = reportUntrusted
    }

    /// Rotates the rings if a rotation is due (creating the first keys on a new database), then
    /// reloads signers and verification keys.
    public func refresh(policy: RotationPolicy, now: Date = Date()) async throws(KeyRingError) {
        let rotator = KeyRingRotator(store: store, masterKey: masterKey, policy: policy)
        let (stored, _) = try await rotator.rotateIfDue(now: now)
        // Only records the master key vouches for sign, verify and are published.
        let (ring, tokenUntrusted) = stored.trusted(under: masterKey)
        var untrusted = tokenUntrusted
        let signer = try ring.signer(masterKey: masterKey)
        let keys: VerificationKeys
        do { keys = try ring.verificationKeys() } catch { throw .corruptRecord(error.description) }
        var openID: (rsa: RSASigningKey, p256: P256SigningKey, keys: [[String: String]])?
        if let openIDStores {
            let rsa = try await Self.rotate(RSASigningKey.self, in: openIDStores.rs256, now: now, policy: policy, masterKey: masterKey)
                .trusted(under: masterKey)
            let p256 = try await Self.rotate(P256SigningKey.self, in: openIDStores.es256, now: now, policy: policy, masterKey: masterKey)
                .trusted(under: masterKey)
            untrusted += rsa.untrusted + p256.untrusted
            openID = (
                try rsa.ring.signer(RSASigningKey.self, masterKey: masterKey), try p256.ring.signer(P256SigningKey.self, masterKey: masterKey),
                rsa.ring.publicJWKs() + p256.ring.publicJWKs()
            )
        }
        material.withLock {
            $0 = Material(signer: signer, keys: keys, openIDSigner: openID?.rsa, openIDP256Signer: openID?.p256, openIDKeys: openID?.keys ?? [])
        }
        if !untrusted.isEmpty { reportUntrusted(untrusted) }
    }

    /// Applies the rotations due to one of the OpenID provider's rings.
    private static func rotate<Key: RingSigningKey>(
        _ type: Key.Type, in store: any KeyRingStore, now: Date, policy: RotationPolicy, masterKey: MasterKey
    ) async throws(KeyRingError) -> KeyRing {
        try await store.update { stored throws(KeyRingError) in
            let ring = stored.authenticatingUnstamped(masterKey: masterKey) { KeyRecord.matches(Key.self, $0, secret: $1) }
            do throws(TokenError) {
                return try ring.changingTrusted(under: masterKey) { trusted throws(TokenError) in
                    try trusted.rotated(now: now, policy: policy) { state throws(TokenError) in
                        try KeyRecord.generate(Key.self, masterKey: masterKey, now: now, state: state)
                    }
                }
            } catch {
                throw KeyRingError.keyGenerationFailed(error.description)
            }
        }.after
    }

    /// The active signing key; fails closed before the first successful refresh.
    public func signer() throws(IdentityError) -> TokenSigner {
        guard let signer = material.withLock({ $0.signer }) else { throw .unavailable("no signing key loaded") }
        return signer
    }

    /// Every key tokens may currently be signed with (the published JWKS).
    public var verificationKeys: VerificationKeys { material.withLock { $0.keys } }

    /// The OpenID provider's active RSA key; fails closed when this process has none.
    public func openIDSigner() throws(IdentityError) -> RSASigningKey {
        guard let signer = material.withLock({ $0.openIDSigner }) else { throw .unavailable("no OpenID signing key loaded") }
        return signer
    }

    /// The OpenID provider's active P-256 key (ES256 id_tokens).
    public func openIDP256Signer() throws(IdentityError) -> P256SigningKey {
        guard let signer = material.withLock({ $0.openIDP256Signer }) else { throw .unavailable("no OpenID signing key loaded") }
        return signer
    }

    /// The OpenID provider's RSA and P-256 public keys that verify (published ahead of use).
    public var openIDKeys: [[String: String]] { material.withLock { $0.openIDKeys } }
}
