import ArgumentParser
import Composition
import Foundation
import Identity

/// `portcullis client`: the tools that sign people in with Portcullis as their OpenID provider.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Manage OpenID clients (tools that sign people in with Portcullis): add, list, rotate-secret, remove.",
        subcommands: [Add.self, List.self, RotateSecret.self, Remove.self])

    static func describe(_ client: OpenIDClient) -> String {
        let kind = client.confidential ? "confidential(\(client.authenticationMethod))" : "public"
        let labels = client.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "\(client.id)\t\(kind)\tredirect_uris=\(client.redirectURIs.joined(separator: ","))\tscopes=\(client.scopes.joined(separator: ","))"
            + "\tclaims=\(client.claims.joined(separator: ","))\tlabels=\(labels)\talg=\(client.idTokenAlgorithm)"
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client. A confidential client's secret is printed once; only its hash is kept.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Client id (letters, digits, '.', '_', '-').") var id: String
        @Option(help: "Display name (the denial page names the tool with it).") var name: String?
        @Option(help: "Redirect URI, matched exactly (repeatable).") var redirectURI: [String]
        @Option(help: "Where RP-initiated logout may return (repeatable).") var postLogoutRedirectURI: [String] = []
        @Flag(help: "A public client (a single-page app, a CLI): no secret, PKCE required.") var `public` = false
        @Option(help: "Scopes it may ask for (repeatable; default openid, profile, email).") var scope: [String] = []
        @Option(help: "Person claims its tokens may carry: login, email, name, groups, roles (repeatable).") var claim: [String] = []
        @Option(help: "A label KEY=VALUE: a tag of Client::\"<id>\" for policies (repeatable).") var label: [String] = []
        @Option(help: "id_token signature: RS256, ES256 or EdDSA.") var idTokenAlg = "RS256"
        @Option(help: "Access and id token lifetime in seconds.") var accessTokenSeconds = 300
        @Option(help: "Refresh token lifetime in seconds (never beyond the sign-in session).") var refreshTokenSeconds = 8 * 3600
        @Option(help: "The client's public keys (a JWKS file): it authenticates with private_key_jwt, no secret.") var jwksFile: String?

        func run() async throws {
            var labels: [String: String] = [:]
            for item in label {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--label must be KEY=VALUE, got '\(item)'") }
                labels[parts[0]] = parts[1]
            }
            var client = OpenIDClient(
                id: id, name: name ?? id, confidential: !`public`, redirectURIs: redirectURI, postLogoutRedirectURIs: postLogoutRedirectURI,
                labels: labels, idTokenAlgorithm: idTokenAlg, accessTokenLifetime: TimeInterval(accessTokenSeconds),
                refreshTokenLifetime: TimeInterval(refreshTokenSeconds))
            if let jwksFile {
                do { client.jwks = try String(contentsOfFile: jwksFile, encoding: .utf8) } catch {
                    throw ValidationError("cannot read --jwks-file \(jwksFile): \(error.localizedDescription)")
                }
            }
            if !scope.isEmpty { client.scopes = scope }
            if !claim.isEmpty { client.claims = claim }
            let draft = client
            try await IdentityCommandRunner.run(options, "client add") { admin in
                let (created, secret) = try await admin.operations.createOpenIDClient(draft)
                print(ClientCommand.describe(created))
                if let secret { print("client secret (shown once): \(secret)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            try await IdentityCommandRunner.run(options, "client list") { admin in
                for client in try await admin.store.listOpenIDClients() { print(ClientCommand.describe(client)) }
            }
        }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-secret", abstract: "Give a confidential client a new secret, printed once; the old one stops at once.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var id: String

        func run() async throws {
            let id = id
            try await IdentityCommandRunner.run(options, "client rotate-secret") { admin in
                let (_, secret) = try await admin.operations.rotateOpenIDClientSecret(id)
                print("client secret (shown once): \(secret)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a client; every grant and refresh token it holds ends.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var id: String

        func run() async throws {
            let id = id
            try await IdentityCommandRunner.run(options, "client remove") { admin in
                try await admin.operations.removeOpenIDClient(id)
                print("removed client \(id)")
            }
        }
    }
}
