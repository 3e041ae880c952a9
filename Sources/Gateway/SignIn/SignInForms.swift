import HTTPTypes
import Hummingbird
import NIOCore
import Tokens

/// The HTML of the sign-in host's pages: plain forms, no script at all (the CSP forbids it),
/// framing forbidden, every form carrying the CSRF token it was rendered with.
struct SignInForms {
    let prefix: String
    /// The CSRF token of the flow; nil renders a fresh one and sets its cookie.
    let csrf: String?
    /// Identity providers the sign-in page offers.
    let providers: [(id: String, displayName: String)]

    private let freshToken: String
    private var token: String { csrf ?? freshToken }
    /// Another origin a form's submission may end on (after its redirects): the route host a
    /// sign-in continues to by single sign-on.
    private var formTarget: String?

    init(prefix: String, csrf: String?, providers: [(id: String, displayName: String)] = []) {
        self.prefix = prefix
        self.csrf = csrf
        self.providers = providers
        self.freshToken = csrf ?? OpaqueSecret.generate(prefix: "")
    }

    /// The same forms, whose submissions may end on `origin`.
    func redirecting(to origin: String?) -> SignInForms {
        var forms = self
        forms.formTarget = origin
        return forms
    }

    func login(_ status: HTTPResponse.Status, next: String, message: String?) -> Response {
        let choices = providers.map { provider in
            #"<p><a class="provider" href="\#(prefix)federation/\#(provider.id)/start?next=\#(SignInHost.escaped(next))">"#
                + "Sign in with \(GatewayAnswers.escape(provider.displayName))</a></p>"
        }.joined()
        return page(
            status, title: "Sign in", message: message,
            body: choices
                + form(
                    "login", next: next,
                    """
                    <label>Login <input name="login" autocomplete="username" required autofocus></label>
                    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
                    <button type="submit">Sign in</button>
                    """))
    }

    func secondFactor(challenge: String, next: String, message: String?) -> Response {
        page(
            .ok, title: "Second factor", message: message,
            body: form(
                "mfa", next: next,
                """
                <input type="hidden" name="challenge" value="\(GatewayAnswers.escape(challenge))">
                <label>Code from your authenticator app, or a recovery code
                <input name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus></label>
                <button type="submit">Continue</button>
                """))
    }

    func newPassword(_ status: HTTPResponse.Status, challenge: String, next: String, message: String?) -> Response {
        page(
            status, title: "Choose a new password",
            message: message ?? "The password you signed in with worked once. Choose your own to continue.",
            body: form(
                "password", next: next,
                """
                <input type="hidden" name="challenge" value="\(GatewayAnswers.escape(challenge))">
                <label>New password (at least 12 characters)
                <input name="new_password" type="password" autocomplete="new-password" minlength="12" required autofocus></label>
                <button type="submit">Set password and continue</button>
                """))
    }

    /// Who is signed in here, with the sign-out button.
    func home(login: String) -> Response {
        page(
            .ok, title: "Signed in", message: nil,
            body: "<p>You are signed in as <strong>\(GatewayAnswers.escape(login))</strong>.</p>" + signOut)
    }

    func signOutConfirmation(login: String?) -> Response {
        let who = login.map { " as <strong>\(GatewayAnswers.escape($0))</strong>" } ?? ""
        return page(
            .ok, title: "Sign out",
            message: nil, body: "<p>You are signed in\(who). Signing out ends your session in every tool.</p>" + signOut)
    }

    /// A tool asked to sign the person out (RP-initiated logout): confirmed with a form, so a
    /// link cannot sign anyone out; `request` is the tool's request, checked again on submission.
    func openIDSignOut(login: String, clientName: String?, request: String) -> Response {
        let asking = clientName.map { "\(GatewayAnswers.escape($0)) asks to sign you out. " } ?? ""
        return page(
            .ok, title: "Sign out", message: nil,
            body:
                "<p>\(asking)You are signed in as <strong>\(GatewayAnswers.escape(login))</strong>. Signing out ends your session in every tool.</p>"
                + form(
                    "oidc/logout", next: "/",
                    """
                    <input type="hidden" name="request" value="\(GatewayAnswers.escape(request))">
                    <button type="submit">Sign out everywhere</button>
                    """))
    }

    /// A refusal of the sign-in host, with a way to start again.
    func notice(_ status: HTTPResponse.Status, title: String, message: String, link: (label: String, url: String)?) -> Response {
        let anchor = link.map { #"<p><a href="\#(GatewayAnswers.escape($0.url))">\#(GatewayAnswers.escape($0.label))</a></p>"# } ?? ""
        return page(status, title: title, message: message, body: anchor, hasForm: false)
    }

    private var signOut: String {
        form("logout", next: "/", #"<button type="submit">Sign out everywhere</button>"#)
    }

    private func form(_ action: String, next: String, _ fields: String) -> String {
        """
        <form method="post" action="\(prefix)\(action)">
        <input type="hidden" name="csrf" value="\(GatewayAnswers.escape(token))">
        <input type="hidden" name="next" value="\(GatewayAnswers.escape(next))">
        \(fields)
        </form>
        """
    }

    /// An HTML page with a strict CSP, framing forbidden, and, when it has a form with a fresh
    /// token, that token's cookie.
    private func page(_ status: HTTPResponse.Status, title: String, message: String?, body: String, hasForm: Bool = true) -> Response {
        let notice = message.map { "<p role=\"alert\" style=\"color:#a00\">\(GatewayAnswers.escape($0))</p>" } ?? ""
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(GatewayAnswers.escape(title))</title>
            <meta name="viewport" content="width=device-width"></head>
            <body style="font-family:system-ui,sans-serif;max-width:24em;margin:4em auto;color:#222">
            <h1>\(GatewayAnswers.escape(title))</h1>\(notice)\(body)</body></html>
            """
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy:
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'\(formTarget.map { " " + $0 } ?? ""); frame-ancestors 'none'",
        ]
        if csrf == nil && hasForm {
            headers.append(
                HTTPField(name: .setCookie, value: SessionCookies.header(SessionCookies.csrf, freshToken, maxAge: 3600, sameSite: "Strict")))
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
