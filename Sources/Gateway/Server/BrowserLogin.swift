import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird
import NIOCore
import Tokens

/// The gateway's own pages under `/.portcullis/` on every host it serves: the login form, the
/// second-factor step and logout. They ask the identity service (``BrowserSignIn``) and end by
/// setting (or clearing) the `__Host-portcullis` session cookie.
///
/// Every form carries a CSRF token that must equal the `__Host-portcullis-csrf` cookie
/// (double submit; the cookie is `SameSite=Strict` and `HttpOnly`), and a form post whose
/// `Origin` is another site is refused. The `next` target is kept in the form and checked
/// with `RedirectTarget` before the redirect, so no form of open redirect gets through.
public struct BrowserLogin: Sendable {
    public static let prefix = "/.portcullis/"
    static let csrfCookie = "__Host-portcullis-csrf"
    static let maxFormBytes = 16 * 1024

    let identity: any BrowserSignIn
    let sessions: SessionCookieCodec
    let settings: GatewaySettings

    public init(identity: any BrowserSignIn, sessions: SessionCookieCodec, settings: GatewaySettings) {
        self.identity = identity
        self.sessions = sessions
        self.settings = settings
    }

    func respond(_ request: Request, canonical: CanonicalRequest, clientAddress: String, requestID: String) async -> Response {
        let page = String(canonical.path.dropFirst(Self.prefix.count))
        switch (canonical.method, page) {
        case (.get, "login"):
            let next = Self.query(canonical.query)["next"].flatMap(RedirectTarget.validate) ?? "/"
            return form(.ok, csrf: Authenticator.cookie(named: Self.csrfCookie, in: request.headers), next: next, message: nil)
        case (.post, "login"), (.post, "mfa"), (.post, "logout"):
            guard let fields = await Self.formFields(request), sameOrigin(request.headers, host: canonical.host),
                let expected = Authenticator.cookie(named: Self.csrfCookie, in: request.headers),
                let presented = fields["csrf"], Self.constantTimeEqual(expected, presented)
            else {
                return form(
                    .forbidden, csrf: Authenticator.cookie(named: Self.csrfCookie, in: request.headers), next: "/",
                    message: "The form expired or did not come from this site. Please try again.")
            }
            let next = fields["next"].flatMap(RedirectTarget.validate) ?? "/"
            let client = SignInClient(address: clientAddress, userAgent: request.headers[.userAgent] ?? "")
            switch page {
            case "login": return await login(fields, next: next, csrf: expected, client: client)
            case "mfa": return await secondFactor(fields, next: next, csrf: expected, client: client)
            default: return await logout(request.headers, csrf: expected)
            }
        default:
            return GatewayAnswers.json(.notFound, ["error": "not_found", "message": "no such page"], requestID: requestID)
        }
    }

    private func login(_ fields: [String: String], next: String, csrf: String, client: SignInClient) async -> Response {
        do {
            switch try await identity.signIn(login: fields["login"] ?? "", password: fields["password"] ?? "", client: client) {
            case let .signedIn(session):
                return signedIn(session, next: next)
            case let .secondFactorRequired(challenge):
                return mfaForm(csrf: csrf, challenge: challenge, next: next, message: nil)
            }
        } catch {
            return form(Self.status(error), csrf: csrf, next: next, message: Self.message(error))
        }
    }

    private func secondFactor(_ fields: [String: String], next: String, csrf: String, client: SignInClient) async -> Response {
        do {
            return signedIn(
                try await identity.completeSignIn(challenge: fields["challenge"] ?? "", code: fields["code"] ?? "", client: client),
                next: next)
        } catch {
            return form(.unauthorized, csrf: csrf, next: next, message: "That code was not accepted. Please sign in again.")
        }
    }

    private func logout(_ fields: HTTPFields, csrf: String) async -> Response {
        if let cookie = Authenticator.cookie(named: IdentityHeaderFilter.sessionCookieName, in: fields),
            let claims = try? sessions.open(cookie, now: Date()), let id = claims.sessionID
        {
            await identity.endSession(id: id)
        }
        var headers: HTTPFields = [.location: Self.prefix + "login", .cacheControl: "no-store"]
        headers.append(HTTPField(name: .setCookie, value: Self.clearedSessionCookie))
        return Response(status: .seeOther, headers: headers)
    }

    /// Sets the session cookie (a fresh one on every login: nothing from before the login is
    /// reused, so a planted cookie cannot fixate the session) and redirects to `next`.
    private func signedIn(_ session: SignedInSession, next: String) -> Response {
        let now = Date()
        let expires = min(now + settings.sessionIdleTimeout, session.expiresAt)
        let claims = Claims(
            issuer: settings.assertionIssuer, subject: session.login, audience: [settings.assertionIssuer], issuedAt: now,
            expiresAt: expires, tokenID: Claims.newTokenID(), subjectKind: .user, roles: session.roles,
            groups: session.groups, sessionID: session.sessionID,
            authMethods: session.authMethods, mfaTime: session.mfaAt, sessionExpiresAt: session.expiresAt)
        guard let sealed = try? sessions.seal(claims) else {
            return form(.serviceUnavailable, csrf: nil, next: next, message: "Signing in is unavailable right now.")
        }
        var headers: HTTPFields = [.location: next, .cacheControl: "no-store"]
        headers.append(
            HTTPField(
                name: .setCookie,
                value: Self.cookie(
                    IdentityHeaderFilter.sessionCookieName, sealed,
                    maxAge: Int(expires.timeIntervalSince(now)), sameSite: "Lax")))
        return Response(status: .seeOther, headers: headers)
    }

    // MARK: Pages

    private func form(_ status: HTTPResponse.Status, csrf: String?, next: String, message: String?) -> Response {
        let token = csrf ?? OpaqueSecret.generate(prefix: "")
        let body = """
            <form method="post" action="\(Self.prefix)login">
            <input type="hidden" name="csrf" value="\(GatewayAnswers.escape(token))">
            <input type="hidden" name="next" value="\(GatewayAnswers.escape(next))">
            <label>Login <input name="login" autocomplete="username" required autofocus></label>
            <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
            <button type="submit">Sign in</button>
            </form>
            """
        return page(status, title: "Sign in", message: message, body: body, csrf: csrf == nil ? token : nil)
    }

    private func mfaForm(csrf: String, challenge: String, next: String, message: String?) -> Response {
        let body = """
            <form method="post" action="\(Self.prefix)mfa">
            <input type="hidden" name="csrf" value="\(GatewayAnswers.escape(csrf))">
            <input type="hidden" name="next" value="\(GatewayAnswers.escape(next))">
            <input type="hidden" name="challenge" value="\(GatewayAnswers.escape(challenge))">
            <label>Code from your authenticator app, or a recovery code
            <input name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus></label>
            <button type="submit">Continue</button>
            </form>
            """
        return page(.ok, title: "Second factor", message: message, body: body, csrf: nil)
    }

    /// An HTML page with a strict CSP (no scripts at all), framing forbidden, and, when `csrf`
    /// is given, the CSRF cookie it was rendered with.
    private func page(_ status: HTTPResponse.Status, title: String, message: String?, body: String, csrf: String?) -> Response {
        let notice = message.map { "<p role=\"alert\" style=\"color:#a00\">\(GatewayAnswers.escape($0))</p>" } ?? ""
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(GatewayAnswers.escape(title))</title>
            <meta name="viewport" content="width=device-width"></head>
            <body style="font-family:system-ui,sans-serif;max-width:24em;margin:4em auto;color:#222">
            <h1>\(GatewayAnswers.escape(title))</h1>\(notice)\(body)</body></html>
            """
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ]
        if let csrf { headers.append(HTTPField(name: .setCookie, value: Self.cookie(Self.csrfCookie, csrf, maxAge: 3600, sameSite: "Strict"))) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    // MARK: Helpers

    /// `__Host-` cookies: Secure, Path=/, no Domain, so no other host or path can set or read them.
    static func cookie(_ name: String, _ value: String, maxAge: Int, sameSite: String) -> String {
        "\(name)=\(value); Path=/; Secure; HttpOnly; SameSite=\(sameSite); Max-Age=\(maxAge)"
    }

    /// Expires the session cookie in the browser: after logout, and when a request presents one
    /// that no longer holds.
    static let clearedSessionCookie = cookie(IdentityHeaderFilter.sessionCookieName, "", maxAge: 0, sameSite: "Lax")

    /// A post must come from this host when the browser says where it came from.
    private func sameOrigin(_ fields: HTTPFields, host: String) -> Bool {
        guard let origin = fields[.origin] else { return true }
        guard let url = URL(string: origin), let originHost = url.host?.lowercased() else { return false }
        return url.scheme == "https" && originHost == host
    }

    private static func formFields(_ request: Request) async -> [String: String]? {
        guard let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded"),
            let buffer = try? await request.body.collect(upTo: maxFormBytes),
            let text = String(validating: buffer.readableBytesView, as: UTF8.self),
            case let .success(fields) = FormURLEncoded.parse(text)
        else { return nil }
        return fields
    }

    private static func query(_ query: String?) -> [String: String] {
        guard let query, case let .success(fields) = FormURLEncoded.parse(query) else { return [:] }
        return fields
    }

    /// Compares CSRF tokens without revealing where they differ (also used by the admin console).
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private static func status(_ failure: SignInFailure) -> HTTPResponse.Status {
        switch failure {
        case .throttled: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .notAccepted: .unauthorized
        }
    }

    private static func message(_ failure: SignInFailure) -> String {
        switch failure {
        case .throttled(let seconds): "Too many attempts. Try again in \(seconds) seconds."
        case .unavailable: "Signing in is unavailable right now. Please try again shortly."
        case .notAccepted: "The login or password is not correct."
        }
    }
}
