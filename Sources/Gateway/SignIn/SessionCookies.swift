import Foundation
import Tokens

/// The gateway's browser cookies: `__Host-` prefixed (Secure, `Path=/`, no `Domain`), so each is
/// bound to the one host that set it and no other host or path can set or read it. Each host's
/// session cookie names the same identity session; none carries roles or groups.
enum SessionCookies {
    static let session = IdentityHeaderFilter.sessionCookieName
    static let csrf = "__Host-portcullis-csrf"
    /// The sealed state of a sign-in with an identity provider, from the start to the callback.
    static let federation = "__Host-portcullis-federation"

    static func header(_ name: String, _ value: String, maxAge: Int, sameSite: String) -> String {
        "\(name)=\(value); Path=/; Secure; HttpOnly; SameSite=\(sameSite); Max-Age=\(maxAge)"
    }

    /// Expires the session cookie in the browser: after sign-out, and when a request presents one
    /// that no longer holds.
    static let cleared = header(session, "", maxAge: 0, sameSite: "Lax")
    static let clearedFederation = header(federation, "", maxAge: 0, sameSite: "Lax")

    /// A fresh session cookie for `session` (a new one at every sign-in and every code redeemed:
    /// nothing presented before is reused, so a planted cookie cannot fixate the session); nil
    /// when it cannot be sealed.
    static func sealed(_ session: SignedInSession, codec: SessionCookieCodec, settings: GatewaySettings, now: Date = Date()) -> String? {
        let expires = min(now + settings.sessionIdleTimeout, session.expiresAt)
        let claims = Claims(
            issuer: settings.assertionIssuer, subject: session.login, audience: [settings.assertionIssuer], issuedAt: now,
            expiresAt: expires, tokenID: Claims.newTokenID(), subjectKind: .user, roles: [], groups: [],
            sessionID: session.sessionID, authMethods: session.authMethods, mfaTime: session.mfaAt,
            sessionExpiresAt: session.expiresAt)
        guard let value = try? codec.seal(claims) else { return nil }
        return header(Self.session, value, maxAge: Int(expires.timeIntervalSince(now)), sameSite: "Lax")
    }
}
