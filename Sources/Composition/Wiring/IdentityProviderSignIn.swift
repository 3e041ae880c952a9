import Federation
import Foundation
import Gateway
import Identity

/// Sign-in with the company's identity providers: the relying party checks the provider's
/// answer, the identity service links the person and opens the session.
struct IdentityProviderSignIn: ProviderSignIn {
    let relyingParty: RelyingParty
    let service: IdentityService

    var providers: [(id: String, displayName: String)] { relyingParty.choices }

    func begin(provider: String, next: String, redirectURI: String) async throws(ProviderSignInFailure) -> (url: String, state: String) {
        do {
            return try await relyingParty.begin(provider: provider, next: next, redirectURI: redirectURI)
        } catch {
            throw ProviderSignInFailure(reason: error.description, unavailable: true)
        }
    }

    func complete(
        provider: String, query: [String: String], state: String?, redirectURI: String, client: SignInClient
    ) async throws(ProviderSignInFailure) -> (session: SignedInSession, next: String) {
        let identity: FederatedIdentity
        let next: String
        let refreshToken: String?
        do {
            (identity, next, refreshToken) = try await relyingParty.complete(
                provider: provider, query: query, state: state, redirectURI: redirectURI)
        } catch {
            if case .providerUnavailable = error { throw ProviderSignInFailure(reason: error.description, unavailable: true) }
            throw ProviderSignInFailure(reason: error.description, unavailable: false)
        }
        guard let settings = relyingParty.settings(of: provider) else {
            throw ProviderSignInFailure(reason: "no provider \(provider)", unavailable: false)
        }
        do {
            let issued = try await service.signInFederated(
                FederatedAccount(identity, settings: settings), refreshToken: refreshToken, revalidateEvery: settings.revalidateEvery,
                client: ClientInfo(address: client.address, userAgent: client.userAgent))
            return (
                SignedInSession(
                    login: issued.user.login, sessionID: issued.session.id.uuidString.lowercased(), authMethods: issued.session.authMethods,
                    mfaAt: issued.session.mfaAt, expiresAt: issued.session.expiresAt), next
            )
        } catch {
            switch error {
            case .overloaded, .unavailable: throw ProviderSignInFailure(reason: error.description, unavailable: true)
            default: throw ProviderSignInFailure(reason: error.description, unavailable: false)
            }
        }
    }
}

extension IdentityProviderSignIn {
    func backChannelLogout(provider: String, logoutToken: String) async throws(ProviderSignInFailure) -> Int {
        let person: (issuer: String, subject: String)
        do {
            person = try await relyingParty.loggedOut(provider: provider, logoutToken: logoutToken)
        } catch {
            if case .providerUnavailable = error { throw ProviderSignInFailure(reason: error.description, unavailable: true) }
            throw ProviderSignInFailure(reason: error.description, unavailable: false)
        }
        do {
            let sessions = try await service.federatedSessions(issuer: person.issuer, subject: person.subject)
            await service.endFederatedSessions(sessions, provider: provider, reason: "back-channel logout")
            return sessions.count
        } catch {
            throw ProviderSignInFailure(reason: error.description, unavailable: true)
        }
    }
}

extension FederatedAccount {
    /// The person a provider vouched for, with what its group mapping grants now.
    init(_ identity: FederatedIdentity, settings: ProviderSettings) {
        let grants = settings.groupMapping.grants(for: identity.groups)
        let managed = settings.groupMapping.managed
        self.init(
            providerID: settings.id, issuer: identity.issuer, subject: identity.subject, login: identity.login, email: identity.email,
            emailVerified: identity.emailVerified, multiFactor: identity.multiFactor, authenticatedAt: identity.authenticatedAt,
            roles: grants.roles, groups: grants.groups, managedRoles: managed.roles, managedGroups: managed.groups,
            createUsers: settings.createUsers, linkVerifiedEmailDomains: settings.linkVerifiedEmailDomains)
    }
}
