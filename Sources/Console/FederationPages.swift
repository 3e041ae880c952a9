import Federation
import Foundation
import Hummingbird
import Identity

/// Identity providers: what each configured provider is trusted for (the configuration's
/// `federation` section, read-only here), how many people are linked to it, and removing one
/// person's link, which ends the sessions that identity opened.
extension AdminConsole {
    static let federationPages: [ConsolePage] = [
        ConsolePage(.get, "providers") { console, _, context in try await console.providers(context) },
        ConsolePage(.post, "users/:login/identities/unlink") { console, _, context in
            let login = try context.parameter("login")
            _ = try await console.operations(context).unlinkIdentity(
                login: login, issuer: try context.requiredField("issuer"), subject: try context.requiredField("subject"))
            return Self.redirect("users/" + Self.escapePath(login))
        },
    ]

    private func providers(_ context: ConsoleContext) async throws -> Response {
        let counts = try await identity.store.federationCounts()
        return render(
            .ok, "providers",
            [
                "section": "providers", "title": "Identity providers", "none": providers.isEmpty,
                "providers": providers.map { provider in
                    let count = counts[provider.id]
                    return [
                        "id": provider.id, "name": provider.displayName, "issuer": provider.issuer.absoluteString,
                        "client_id": provider.clientID, "scopes": provider.scopes.joined(separator: " "),
                        "claims": "login \(provider.loginClaim), e-mail \(provider.emailClaim), groups \(provider.groupsClaim ?? "(none)")",
                        "create_users": provider.createUsers, "link_domains": provider.linkVerifiedEmailDomains,
                        "mfa": (provider.mfaAMR.map { "amr " + $0 } + provider.mfaACR.map { "acr " + $0 }).joined(separator: ", "),
                        "revalidate": Self.duration(provider.revalidateEvery), "grace": Self.duration(provider.unreachableGrace),
                        "mapping": provider.groupMapping.table.keys.sorted().map { group in
                            let grants = provider.groupMapping.table[group] ?? .init()
                            return [
                                "group": group,
                                "grants": (grants.roles.sorted().map { "role " + $0 } + grants.groups.sorted().map { "group " + $0 })
                                    .joined(separator: ", "),
                            ]
                        },
                        "linked": count?.linked ?? 0, "sessions": count?.sessions ?? 0,
                    ] as [String: Any]
                },
            ], context)
    }

    /// The user page's linked identities.
    func linkedIdentityValues(_ user: User) async throws -> [[String: Any]] {
        try await identity.store.linkedIdentities(userID: user.id).map { identity in
            [
                "provider": identity.provider, "issuer": identity.issuer, "subject": identity.subject,
                "linked_at": Self.time(identity.linkedAt), "last_sign_in_at": identity.lastSignInAt.map(Self.time) ?? "never",
            ]
        }
    }

    private static func duration(_ seconds: TimeInterval) -> String {
        let whole = Int(seconds)
        return whole % 60 == 0 ? "\(whole / 60) min" : "\(whole) s"
    }
}
