import Foundation
import Hummingbird
import Identity

/// The OpenID provider's clients: the tools that sign people in with Portcullis. Creating one
/// or rotating its secret shows the secret on the next page only; removing one ends its grants.
extension AdminConsole {
    static let clientPages: [ConsolePage] = [
        ConsolePage(.get, "clients") { console, _, context in try await console.clients(context, notice: [:]) },
        ConsolePage(.post, "clients") { console, _, context in
            func list(_ name: String) -> [String] {
                (context.field(name) ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\r" }).map(String.init)
            }
            var labels: [String: String] = [:]
            for pair in list("labels") {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw ConsoleError.invalid("labels are key=value pairs, got '\(pair)'") }
                labels[parts[0]] = parts[1]
            }
            let id = try context.requiredField("id")
            var client = OpenIDClient(
                id: id, name: context.field("name").flatMap { $0.isEmpty ? nil : $0 } ?? id, confidential: context.field("public") == nil,
                redirectURIs: list("redirect_uris"), postLogoutRedirectURIs: list("post_logout_redirect_uris"), labels: labels,
                idTokenAlgorithm: context.field("id_token_alg") ?? "RS256")
            if !list("scopes").isEmpty { client.scopes = list("scopes") }
            if !list("claims").isEmpty { client.claims = list("claims") }
            let (created, secret) = try await console.operations(context).createOpenIDClient(client)
            return try await console.clients(
                context, notice: secret.map { ["shown_once": $0, "shown_once_what": "client secret of \(created.id)"] } ?? [:])
        },
        ConsolePage(.post, "clients/:id/secret") { console, _, context in
            let (client, secret) = try await console.operations(context).rotateOpenIDClientSecret(try context.parameter("id"))
            return try await console.clients(context, notice: ["shown_once": secret, "shown_once_what": "new client secret of \(client.id)"])
        },
        ConsolePage(.post, "clients/:id/remove") { console, _, context in
            try await console.operations(context).removeOpenIDClient(try context.parameter("id"))
            return Self.redirect("clients")
        },
    ]

    private func clients(_ context: ConsoleContext, notice: [String: Any]) async throws -> Response {
        var values: [String: Any] = [
            "section": "clients", "title": "OpenID clients",
            "clients": try await identity.store.listOpenIDClients().map { client in
                [
                    "id": client.id, "path": Self.escapePath(client.id), "name": client.name, "confidential": client.confidential,
                    "redirect_uris": client.redirectURIs, "post_logout_redirect_uris": client.postLogoutRedirectURIs,
                    "scopes": client.scopes.joined(separator: " "), "claims": client.claims.joined(separator: ", "),
                    "labels": client.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
                    "alg": client.idTokenAlgorithm, "created_at": Self.time(client.createdAt),
                    "rotated_at": client.secretRotatedAt.map(Self.time) ?? "",
                ] as [String: Any]
            },
        ]
        values.merge(notice) { $1 }
        return render(.ok, "clients", values, context)
    }
}
