import Foundation
import Logging
import ServiceLifecycle
import Tokens

/// Background upkeep of one identity replica: rotates the signing keys when due (any replica may;
/// the store lets one win) and purges expired rows.
public struct IdentityMaintenance: Service {
    let keys: SigningKeys
    let store: IdentityStore
    let rotation: RotationPolicy
    let logger: Logger
    let interval: Duration

    public init(keys: SigningKeys, store: IdentityStore, rotation: RotationPolicy, logger: Logger, interval: Duration = .seconds(60)) {
        self.keys = keys
        self.store = store
        self.rotation = rotation
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        var lastPurge = ContinuousClock.now - .seconds(3600)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await keys.refresh(policy: rotation)
            } catch {
                logger.error("signing key refresh failed", metadata: ["error": "\(error)"])
            }
            if ContinuousClock.now - lastPurge >= .seconds(3600) {
                do {
                    try await store.purgeExpired(attemptRetention: 86_400)
                    lastPurge = .now
                } catch {
                    logger.warning("purging expired identity rows failed", metadata: ["error": "\(error)"])
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
