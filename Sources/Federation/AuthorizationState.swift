import Crypto
import Foundation
import Tokens

/// What one authorization request binds to the browser that started it: sealed (PASETO v4.local
/// under a key of its own) into a short-lived `__Host-` cookie, so the callback is accepted only
/// in that browser, for that provider, with that `state`, and its id_token only with that `nonce`.
struct AuthorizationState: Codable, Sendable {
    let provider: String
    let state: String
    let nonce: String
    /// The PKCE code verifier (RFC 7636); its S256 challenge went to the provider.
    let verifier: String
    /// Where the browser continues after signing in (a local path, checked by the caller).
    let next: String
    let expiresAt: Date

    static let lifetime: TimeInterval = 600
    private static let implicit = Array("portcullis-federation-state".utf8)

    func sealed(with key: PasetoLocalKey) throws -> String {
        try PasetoV4.encrypt(Array(JSONEncoder().encode(self)), with: key, footer: [], implicit: Self.implicit)
    }

    static func open(_ sealed: String, with key: PasetoLocalKey, now: Date) throws(FederationError) -> AuthorizationState {
        let opened: AuthorizationState
        do {
            let payload = try PasetoV4.decrypt(sealed, with: key, implicit: implicit, maxLength: 4096).payload
            opened = try JSONDecoder().decode(AuthorizationState.self, from: Data(payload))
        } catch {
            throw .stateMismatch("the sign-in state cookie does not open")
        }
        guard opened.expiresAt > now else { throw .stateMismatch("the sign-in took longer than \(Int(lifetime)) s") }
        return opened
    }

    /// The S256 code challenge of the verifier.
    var codeChallenge: String {
        Base64URL.encode(Array(SHA256.hash(data: Array(verifier.utf8))))
    }
}
