import Foundation
import Gateway
import Identity

/// How a client authenticated at the token and revocation endpoints: `client_secret_basic`
/// (both parts form-encoded, RFC 6749 §2.3.1), `client_secret_post`, or `none` for a public
/// client (its id in the form, PKCE standing in for the secret). Two methods at once are refused.
struct ClientCredentials {
    let clientID: String
    let secret: String?
    let basic: Bool
    /// A `private_key_jwt` assertion instead of a secret.
    var assertion: String? = nil

    static let challenge = #"Basic realm="portcullis""#

    static func read(form: [String: String], authorization: String?) throws(OAuthRefusal) -> ClientCredentials {
        if let assertion = form["client_assertion"] {
            guard form["client_assertion_type"] == ClientAssertion.type, authorization == nil, form["client_secret"] == nil,
                let id = ClientAssertion.claimedClient(assertion), form["client_id"].map({ $0 == id }) ?? true
            else { throw OAuthRefusal(OAuthAnswer.error("invalid_client", "unusable client assertion", status: 401)) }
            return ClientCredentials(clientID: id, secret: nil, basic: false, assertion: assertion)
        }
        if let authorization, authorization.lowercased().hasPrefix("basic ") {
            guard form["client_secret"] == nil,
                let decoded = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":"),
                let id = formDecoded(text[..<colon]), let secret = formDecoded(text[text.index(after: colon)...]), !id.isEmpty
            else { throw OAuthRefusal(OAuthAnswer.error("invalid_client", "unreadable client credentials", status: 401, challenge: challenge)) }
            if let formID = form["client_id"], formID != id {
                throw OAuthRefusal(OAuthAnswer.error("invalid_request", "client_id differs from the authenticated client"))
            }
            return ClientCredentials(clientID: id, secret: secret, basic: true)
        }
        guard let id = form["client_id"], !id.isEmpty else {
            throw OAuthRefusal(OAuthAnswer.error("invalid_client", "no client authentication", status: 401, challenge: challenge))
        }
        return ClientCredentials(clientID: id, secret: form["client_secret"], basic: false)
    }

    /// The client these credentials authenticate: a confidential client by its secret, a public
    /// one by its id alone; `invalid_client` for anything else, the same answer whatever was wrong.
    /// `audiences`: what a private_key_jwt assertion may name as its audience (this endpoint, the issuer).
    func authenticate(with identity: IdentityService, audiences: Set<String>) async throws(OAuthRefusal) -> OpenIDClient {
        let refused = OAuthRefusal(
            OAuthAnswer.error("invalid_client", "client authentication failed", status: 401, challenge: basic ? Self.challenge : nil))
        let client: OpenIDClient?
        do {
            if let assertion {
                guard let found = try await identity.store.openIDClient(clientID), found.confidential, found.jwks != nil else { throw refused }
                if let reason = await ClientAssertion.verify(assertion, client: found, audiences: audiences, identity: identity) {
                    throw OAuthRefusal(OAuthAnswer.error("invalid_client", reason, status: 401))
                }
                client = found
            } else if let secret {
                client = try await identity.authenticateOpenIDClient(id: clientID, secret: secret)
            } else {
                client = try await identity.store.openIDClient(clientID).flatMap { $0.confidential ? nil : $0 }
            }
        } catch let refusal as OAuthRefusal {
            throw refusal
        } catch {
            throw OAuthRefusal(OAuthAnswer.unavailable)
        }
        guard let client else { throw refused }
        return client
    }

    private static func formDecoded(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
