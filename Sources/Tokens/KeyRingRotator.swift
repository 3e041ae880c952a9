import Foundation

/// Drives automatic rotation: loads the ring, applies `KeyRing.rotated` at the current time,
/// and saves only when something changed. The identity service runs `run(checkEvery:)` as a
/// background task; the CLI calls `rotateIfDue` once.
public actor KeyRingRotator {
    public let store: any KeyRingStore
    public let policy: RotationPolicy
    private let masterKey: MasterKey

    public init(store: any KeyRingStore, masterKey: MasterKey, policy: RotationPolicy) {
        self.store = store
        self.masterKey = masterKey
        self.policy = policy
    }

    /// Applies every rotation due at `now` (or a forced one) and returns the resulting ring.
    /// Refuses to touch a store whose active key this master key cannot open, so two master
    /// keys never end up mixed in one ring.
    public func rotateIfDue(now: Date, force: Bool = false) async throws(KeyRingError) -> (ring: KeyRing, changed: Bool) {
        let masterKey = self.masterKey
        let policy = self.policy
        let (before, after) = try await store.update { stored throws(KeyRingError) in
            let ring = stored.authenticatingUnstamped(masterKey: masterKey, matches: KeyRecord.ed25519Matches)
            // A master key that opens nothing here is refused before anything changes.
            if ring.active != nil { _ = try ring.signer(masterKey: masterKey) }
            do throws(TokenError) {
                return try ring.changingTrusted(under: masterKey) { trusted throws(TokenError) in
                    try trusted.rotated(now: now, policy: policy, force: force) { state throws(TokenError) in
                        try KeyRecord.generate(masterKey: masterKey, now: now, state: state)
                    }
                }
            } catch {
                throw KeyRingError.keyGenerationFailed(error.description)
            }
        }
        return (after, after != before)
    }

    /// Checks for due rotations every `interval` until the task is cancelled. Errors are
    /// handed to `onError` (for logging; they never contain key material) and retried.
    public func run(checkEvery interval: Duration, onError: @Sendable (KeyRingError) -> Void = { _ in }) async {
        while !Task.isCancelled {
            do { _ = try await rotateIfDue(now: Date()) } catch { onError(error) }
            try? await Task.sleep(for: interval)
        }
    }
}
