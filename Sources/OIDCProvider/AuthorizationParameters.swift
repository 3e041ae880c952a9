import Foundation
import Gateway
import Identity

/// Checks an authorization request (OpenID Connect Core §3.1.2.1): first the client and its
/// exact redirect URI, since an error about either cannot be sent to that URI; then the rest,
/// whose errors go back to the client. Only the code flow, only PKCE `S256`, a public client
/// only with PKCE, only scopes the client was given.
enum AuthorizationParameters {
    static func check(_ query: [String: String], client: OpenIDClient?, issuer: String) -> OpenIDAuthorizationCheck {
        guard let client else { return .refused(reason: "unknown client_id") }
        guard let redirectURI = query["redirect_uri"], client.redirectURIs.contains(redirectURI) else {
            return .refused(reason: "redirect_uri is not one registered for client \(client.id)")
        }
        let state = query["state"]
        func error(_ code: String, _ description: String) -> OpenIDAuthorizationCheck {
            let url = OpenIDAuthorizationRequest.redirect(
                redirectURI, [("error", code), ("error_description", description), ("state", state), ("iss", issuer)])
            return .redirectedError(url: url, reason: "\(code): \(description)")
        }
        if query["request"] != nil { return error("request_not_supported", "request objects are not supported") }
        if query["request_uri"] != nil { return error("request_uri_not_supported", "request_uri is not supported") }
        guard query["response_type"] == "code" else { return error("unsupported_response_type", "only the code flow (response_type=code)") }
        if let mode = query["response_mode"], mode != "query" { return error("invalid_request", "only response_mode=query") }
        let scopes = (query["scope"] ?? "").split(separator: " ").map(String.init)
        guard scopes.contains("openid") else { return error("invalid_scope", "scope must include openid") }
        if let refused = scopes.first(where: { !client.scopes.contains($0) }) {
            return error("invalid_scope", "scope \(refused) is not allowed for this client")
        }
        let challenge = query["code_challenge"]
        if let challenge {
            guard (query["code_challenge_method"] ?? "plain") == "S256" else {
                return error("invalid_request", "code_challenge_method must be S256")
            }
            guard challenge.utf8.count == 43, Base64URLAlphabet.contains(challenge) else {
                return error("invalid_request", "code_challenge is not a base64url SHA-256")
            }
        } else if !client.confidential {
            return error("invalid_request", "a public client must use PKCE (code_challenge with S256)")
        } else if query["code_challenge_method"] != nil {
            return error("invalid_request", "code_challenge_method without code_challenge")
        }
        let prompts = Set((query["prompt"] ?? "").split(separator: " ").map(String.init))
        if prompts.contains("none") && prompts.count > 1 { return error("invalid_request", "prompt=none cannot be combined") }
        var maxAge: TimeInterval?
        if let text = query["max_age"] {
            guard let seconds = Int(text), seconds >= 0 else { return error("invalid_request", "max_age must be a number of seconds") }
            maxAge = TimeInterval(seconds)
        }
        if let nonce = query["nonce"], nonce.utf8.count > 512 { return error("invalid_request", "nonce is too long") }
        if let state, state.utf8.count > 1024 { return error("invalid_request", "state is too long") }
        return .valid(
            OpenIDAuthorizationRequest(
                clientID: client.id, clientName: client.name, labels: client.labels, redirectURI: redirectURI, state: state,
                nonce: query["nonce"], scopes: scopes, codeChallenge: challenge,
                prompt: prompts.contains("none") ? "none" : prompts.contains("login") ? "login" : nil, maxAge: maxAge))
    }
}

/// `A-Z a-z 0-9 - _`.
enum Base64URLAlphabet {
    static func contains(_ text: String) -> Bool {
        text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }
}
