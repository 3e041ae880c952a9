import Federation
import Foundation
import Identity
import Logging
import ServiceLifecycle

/// Re-validates every session opened with an identity provider at the provider's interval, with
/// the provider's refresh token: a person disabled or removed there loses every session at the
/// next check (and with it every token of those sessions, on every gateway), a group change
/// applies then, and sessions outlive an unreachable provider only for its grace period.
struct FederationRevalidator: Service {
    let relyingParty: RelyingParty
    let service: IdentityService
    let logger: Logger
    /// How often due sessions are looked for.
    var tick: Duration = .seconds(1)

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                for session in try await service.claimDueFederatedSessions(limit: 50, claim: 60) { await check(session) }
            } catch {
                logger.warning("federated sessions could not be read", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
        }
    }

    private func check(_ session: FederatedSession) async {
        guard let settings = relyingParty.settings(of: session.provider) else {
            await service.endFederatedSessions([session.sessionID], provider: session.provider, reason: "the provider is no longer configured")
            return
        }
        guard let refreshToken = service.providerRefreshToken(of: session) else {
            await service.endFederatedSessions(
                [session.sessionID], provider: session.provider, reason: "no refresh token to re-validate the session with")
            return
        }
        do {
            switch try await relyingParty.revalidate(provider: session.provider, refreshToken: refreshToken, subject: session.subject) {
            case let .vouched(rotated, identity):
                try await service.federatedSessionConfirmed(
                    session, refreshToken: rotated, account: identity.map { FederatedAccount($0, settings: settings) },
                    revalidateEvery: settings.revalidateEvery)
            case let .refused(reason):
                await service.endFederatedSessions([session.sessionID], provider: session.provider, reason: "refused the refresh (\(reason))")
            }
        } catch {
            // Unreachable: the session stands for the grace period after the last confirmation,
            // then ends (the claim retries it within a minute until then).
            guard Date().timeIntervalSince(session.checkedAt) > settings.unreachableGrace else {
                logger.warning(
                    "identity provider unreachable; session kept within its grace period",
                    metadata: ["provider": "\(session.provider)", "error": "\(error)"])
                return
            }
            await service.endFederatedSessions(
                [session.sessionID], provider: session.provider,
                reason: "unreachable for longer than the grace period of \(Int(settings.unreachableGrace)) s")
        }
    }
}
