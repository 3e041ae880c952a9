import Foundation
import Synchronization
import Tokens

/// The current signers and verification keys, swapped as one value when a key ring changes
/// (rotation by any replica, announced by NOTIFY, or the periodic reload): the Ed25519 ring of
/// access tokens and assertions, and (when given a store for it) the OpenID provider's RSA ring.
public final class SigningKeys: Sendable {
    private struct Material: Sendable {
        var signer: TokenSigner?
        var keys: VerificationKeys
        var openIDSigner: RSASigningKey?
        var openIDKeys: [[String: String]] = []
    }

    private let material = Mutex(Material(signer: nil, keys: VerificationKeys([])))
    private let store: any KeyRingStore
    private let openIDStore: (any KeyRingStore)?
    private let masterKey: MasterKey

    public init(store: any KeyRingStore, masterKey: MasterKey, openIDStore: (any KeyRingStore)? = nil) {
        self.store = store
        self.masterKey = masterKey
        self.openIDStore = openIDStore
    }

    /// Rotates the rings if a rotation is due (creating the first keys on a new database), then
    /// reloads signers and verification keys.
    public func refresh(policy: RotationPolicy, now: Date = Date()) async throws(KeyRingError) {
        let rotator = KeyRingRotator(store: store, masterKey: masterKey, policy: policy)
        let (ring, _) = try await rotator.rotateIfDue(now: now)
        let signer = try ring.signer(masterKey: masterKey)
        let keys: VerificationKeys
        do { keys = try ring.verificationKeys() } catch { throw .corruptRecord(error.description) }
        var openID: (RSASigningKey, [[String: String]])?
        if let openIDStore {
            let masterKey = self.masterKey
            let (_, rsaRing) = try await openIDStore.update { ring throws(KeyRingError) in
                do throws(TokenError) {
                    return try ring.rotated(now: now, policy: policy) { state throws(TokenError) in
                        try KeyRecord.generateRSA(masterKey: masterKey, now: now, state: state)
                    }
                } catch {
                    throw KeyRingError.keyGenerationFailed(error.description)
                }
            }
            openID = (try rsaRing.rsaSigner(masterKey: masterKey), rsaRing.rsaPublicKeys())
        }
        material.withLock {
            $0 = Material(signer: signer, keys: keys, openIDSigner: openID?.0, openIDKeys: openID?.1 ?? [])
        }
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

    /// The OpenID provider's RSA public keys that verify (published ahead of use).
    public var openIDKeys: [[String: String]] { material.withLock { $0.openIDKeys } }
}
