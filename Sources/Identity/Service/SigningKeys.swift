import Foundation
import Synchronization
import Tokens

/// The current signer and verification keys, swapped as one value when the key ring changes
/// (rotation by any replica, announced by NOTIFY, or the periodic reload).
public final class SigningKeys: Sendable {
    private struct Material: Sendable {
        var signer: TokenSigner?
        var keys: VerificationKeys
    }

    private let material = Mutex(Material(signer: nil, keys: VerificationKeys([])))
    private let store: any KeyRingStore
    private let masterKey: MasterKey

    public init(store: any KeyRingStore, masterKey: MasterKey) {
        self.store = store
        self.masterKey = masterKey
    }

    /// Rotates the ring if a rotation is due (creating the first key on a new database), then
    /// reloads signer and verification keys.
    public func refresh(policy: RotationPolicy, now: Date = Date()) async throws(KeyRingError) {
        let rotator = KeyRingRotator(store: store, masterKey: masterKey, policy: policy)
        let (ring, _) = try await rotator.rotateIfDue(now: now)
        let signer = try ring.signer(masterKey: masterKey)
        let keys: VerificationKeys
        do { keys = try ring.verificationKeys() } catch { throw .corruptRecord(error.description) }
        material.withLock { $0 = Material(signer: signer, keys: keys) }
    }

    /// The active signing key; fails closed before the first successful refresh.
    public func signer() throws(IdentityError) -> TokenSigner {
        guard let signer = material.withLock({ $0.signer }) else { throw .unavailable("no signing key loaded") }
        return signer
    }

    /// Every key tokens may currently be signed with (the published JWKS).
    public var verificationKeys: VerificationKeys { material.withLock { $0.keys } }
}
