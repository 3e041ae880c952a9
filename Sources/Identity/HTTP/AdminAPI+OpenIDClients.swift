import Foundation
import Hummingbird

/// `/v1/admin/clients`: the OpenID provider's clients. A confidential client's secret is in the
/// answer to its creation or rotation only.
extension AdminAPI {
    struct CreatedClient: Encodable {
        var client: OpenIDClient
        var clientSecret: String?

        enum CodingKeys: String, CodingKey {
            case client
            case clientSecret = "client_secret"
        }
    }

    func registerOpenIDClients(on group: RouterGroup<IdentityRequestContext>) {
        route(group, .get, "clients") { _, _, _ in JSONResponse.make(.ok, ["items": try await store.listOpenIDClients()]) }
        route(group, .post, "clients") { request, context, actor in
            var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
            let id = body.requiredString("id")
            var client = OpenIDClient(
                id: id, name: body.string("name") ?? id, confidential: body.bool("confidential") ?? true,
                redirectURIs: body.strings("redirect_uris"), postLogoutRedirectURIs: body.strings("post_logout_redirect_uris"))
            if body.has("scopes") { client.scopes = body.strings("scopes") }
            if body.has("claims") { client.claims = body.strings("claims") }
            client.labels = body.stringMap("labels")
            client.idTokenAlgorithm = body.string("id_token_signed_response_alg") ?? client.idTokenAlgorithm
            client.accessTokenLifetime = body.seconds("access_token_seconds") ?? client.accessTokenLifetime
            client.refreshTokenLifetime = body.seconds("refresh_token_seconds") ?? client.refreshTokenLifetime
            client.jwks = body.jsonText("jwks")
            try body.finish()
            let (created, secret) = try await operations(actor).createOpenIDClient(client)
            return JSONResponse.make(.created, CreatedClient(client: created, clientSecret: secret))
        }
        route(group, .get, "clients/:id") { _, context, _ in
            let id = try Self.parameter(context, "id")
            guard let client = try await store.openIDClient(id) else { throw IdentityError.notFound("client \(id)") }
            return JSONResponse.make(.ok, client)
        }
        route(group, .post, "clients/:id/secret") { _, context, actor in
            let (client, secret) = try await operations(actor).rotateOpenIDClientSecret(try Self.parameter(context, "id"))
            return JSONResponse.make(.ok, CreatedClient(client: client, clientSecret: secret))
        }
        route(group, .delete, "clients/:id") { _, context, actor in
            try await operations(actor).removeOpenIDClient(try Self.parameter(context, "id"))
            return Response(status: .noContent)
        }
    }
}
