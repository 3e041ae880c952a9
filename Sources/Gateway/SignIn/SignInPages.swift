import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird
import NIOCore
import Tokens

/// The gateway's own pages under `/.portcullis/`. On the sign-in host: sign-in, the second factor,
/// the new password a one-time password requires, single sign-on for route hosts, and sign-out.
/// On a route host only what single sign-on needs: the callback that redeems a code into this
/// host's cookie, and sign-out (sent on to the sign-in host). Every answer updates the request's
/// audit record with who and what happened.
///
/// Every `next` target is a local path checked with ``RedirectTarget``; the single sign-on
/// target host must be exactly a host a route serves; so no form of open redirect gets through.
public struct SignInPages: Sendable {
    public static let prefix = "/.portcullis/"
    /// The route their access records name: answered by the gateway itself, never by a policy.
    public static let auditRoute = "portcullis-sign-in"
    /// Codes travel in URLs: no page after them is told where the browser came from.
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    let identity: any BrowserSignIn
    /// The company's identity providers, when any are configured.
    let providers: (any ProviderSignIn)?
    /// Portcullis as the OpenID provider of the company's tools, when wired.
    let openID: (any OpenIDProviderEndpoints)?
    let codec: SessionCookieCodec
    let settings: GatewaySettings
    let host: SignInHost

    public init(
        identity: any BrowserSignIn, providers: (any ProviderSignIn)? = nil, openID: (any OpenIDProviderEndpoints)? = nil,
        sessions: SessionCookieCodec, settings: GatewaySettings, host: SignInHost
    ) {
        self.identity = identity
        self.providers = providers
        self.openID = openID
        self.codec = sessions
        self.settings = settings
        self.host = host
    }

    /// The pages a route host serves; every other reserved path there answers 404.
    static func servedOnRouteHosts(_ path: String) -> Bool {
        path == prefix + SignInHost.callbackPage || path == prefix + "logout"
    }

    /// `current`: the session the browser holds on the sign-in host, if any.
    func respond(
        _ request: Request, canonical: CanonicalRequest, current: SignedInPerson?, routes: RouteTable<RouteSettings>,
        clientAddress: String, decide: SignInDecider, record: inout AccessRecord
    ) async -> Response {
        let client = SignInClient(address: clientAddress, userAgent: request.headers[.userAgent] ?? "")
        let forms = SignInForms(
            prefix: Self.prefix, csrf: Authenticator.cookie(named: SessionCookies.csrf, in: request.headers),
            providers: providers?.providers ?? [])
        if let current {
            record.principal = current.principal
            record.authMethod = "session"
        }
        record.outcome = .allow
        guard canonical.host == host.host else {
            return await routeHostPage(canonical, client: client, forms: forms, record: &record)
        }
        if canonical.path == Self.discoveryPath {
            return await openIDPage(
                request, page: canonical.method == .get ? "discovery" : "", canonical: canonical, current: current, client: client,
                forms: forms, decide: decide, record: &record)
        }
        guard canonical.path.hasPrefix(Self.prefix) else {
            // The sign-in host has no upstream: its root leads to who is signed in.
            return Self.redirect(to: Self.prefix)
        }
        let page = canonical.path.dropFirst(Self.prefix.count)
        let query = Self.query(canonical.query)
        switch (canonical.method, page) {
        case (.get, ""):
            guard let current else { return Self.redirect(to: Self.prefix + "login") }
            return forms.home(login: current.login)
        case (.get, "login"):
            let next = query["next"].flatMap(RedirectTarget.validate) ?? Self.prefix
            // `prompt=login`: a tool asked for a fresh sign-in, so the form shows despite the session.
            if current != nil && query["prompt"] != "login" { return Self.redirect(to: next) }
            return forms.redirecting(to: await formTarget(next, routes: routes, port: canonical.port)).login(.ok, next: next, message: nil)
        case (.get, "sso"):
            return await signOn(query, port: canonical.port, current: current, routes: routes, client: client, forms: forms, record: &record)
        case (.get, "logout"):
            return forms.signOutConfirmation(login: current?.login)
        case (_, _) where page.hasPrefix("oidc/"):
            return await openIDPage(
                request, page: page.dropFirst("oidc/".count), canonical: canonical, current: current, client: client, forms: forms,
                decide: decide, record: &record)
        case (.get, _) where page.hasPrefix("federation/"):
            return await federation(
                request, page: page.dropFirst("federation/".count), query: query, canonical: canonical, client: client, forms: forms, record: &record)
        case (.post, _) where page.hasPrefix("federation/") && page.hasSuffix("/backchannel-logout"):
            return await backChannelLogout(
                request, provider: page.dropFirst("federation/".count).dropLast("/backchannel-logout".count), record: &record)
        case (.post, "login"), (.post, "mfa"), (.post, "password"), (.post, "logout"):
            guard let post = await FormPost.accept(request, host: canonical.host) else {
                record.outcome = .deny
                record.reason = "form post without this host's CSRF token, or from another origin"
                return forms.login(.forbidden, next: Self.prefix, message: "The form expired or did not come from this site. Please try again.")
            }
            let next = post.fields["next"].flatMap(RedirectTarget.validate) ?? Self.prefix
            let forms = SignInForms(prefix: Self.prefix, csrf: post.csrf, providers: providers?.providers ?? [])
                .redirecting(to: await formTarget(next, routes: routes, port: canonical.port))
            switch page {
            case "login": return await signIn(post.fields, next: next, client: client, forms: forms, record: &record)
            case "mfa": return await secondFactor(post.fields, next: next, client: client, forms: forms, record: &record)
            case "password": return await newPassword(post.fields, next: next, client: client, forms: forms, record: &record)
            default: return await signOut(current, client: client, record: &record)
            }
        default:
            return Self.notFound(&record)
        }
    }

    // MARK: Route hosts

    private func routeHostPage(
        _ canonical: CanonicalRequest, client: SignInClient, forms: SignInForms, record: inout AccessRecord
    ) async -> Response {
        switch (canonical.method, canonical.path.dropFirst(Self.prefix.count)) {
        case (.get, "logout"):
            record.reason = "sign-out sent to the sign-in host"
            return Self.redirect(to: host.origin(of: host.host, requestPort: canonical.port) + Self.prefix + "logout")
        case (.get, Substring(SignInHost.callbackPage)):
            return await redeem(Self.query(canonical.query), on: canonical, client: client, forms: forms, record: &record)
        default:
            return Self.notFound(&record)
        }
    }

    /// Redeems a code for this host's own cookie, bound to the same identity session.
    private func redeem(
        _ query: [String: String], on canonical: CanonicalRequest, client: SignInClient, forms: SignInForms, record: inout AccessRecord
    ) async -> Response {
        let next = query["next"].flatMap(RedirectTarget.validate) ?? "/"
        do {
            let session = try await identity.redeemSignOnCode(query["code"] ?? "", host: canonical.host, client: client)
            record.principal = SignedInPerson(login: session.login, sessionID: session.sessionID).principal
            record.authMethod = "sign_on_code"
            record.reason = "sign-on code redeemed for session \(session.sessionID)"
            return signedIn(session, next: next, forms: forms)
        } catch {
            record.outcome = error == .unavailable ? .error : .deny
            record.reason = error == .unavailable ? "identity service unavailable" : "sign-on code refused"
            return forms.notice(
                error == .unavailable ? .serviceUnavailable : .badRequest, title: "Sign-in link not valid",
                message: error == .unavailable
                    ? "Signing in is unavailable right now. Please try again shortly."
                    : "This sign-in link has expired, was already used, or belongs to another site.",
                link: ("Sign in again", host.signOnURL(for: canonical.host, next: next, requestPort: canonical.port)))
        }
    }

    // MARK: The sign-in host

    /// Single sign-on for a route host: a browser signed in here goes straight back with a code
    /// for that host; one that is not signs in first and comes back here.
    private func signOn(
        _ query: [String: String], port: UInt16?, current: SignedInPerson?, routes: RouteTable<RouteSettings>, client: SignInClient,
        forms: SignInForms, record: inout AccessRecord
    ) async -> Response {
        guard let target = query["host"], SignInHost.isCanonicalHost(target), target != host.host, routes.serves(host: target) else {
            record.outcome = .deny
            record.reason = "single sign-on for a host no route serves"
            return forms.notice(.badRequest, title: "Unknown site", message: "This gateway does not serve the site that sent you here.", link: nil)
        }
        let next = query["next"].flatMap(RedirectTarget.validate) ?? "/"
        let here = Self.prefix + "sso?host=" + SignInHost.escaped(target) + "&next=" + SignInHost.escaped(next)
        guard let current else { return Self.redirect(to: Self.prefix + "login?next=" + SignInHost.escaped(here)) }
        do {
            let code = try await identity.issueSignOnCode(sessionID: current.sessionID, login: current.login, host: target, client: client)
            record.reason = "sign-on code issued for \(target), session \(current.sessionID)"
            var response = Self.redirect(to: host.callbackURL(on: target, code: code, next: next, requestPort: port))
            response.headers[Self.referrerPolicy] = "no-referrer"
            return response
        } catch {
            record.outcome = error == .unavailable ? .error : .deny
            record.reason = error == .unavailable ? "identity service unavailable" : "no sign-on code: the session is not open"
            guard error != .unavailable else {
                return forms.notice(
                    .serviceUnavailable, title: "Sign in", message: "Signing in is unavailable right now. Please try again shortly.", link: nil)
            }
            var response = Self.redirect(to: Self.prefix + "login?next=" + SignInHost.escaped(here))
            response.headers.append(HTTPField(name: .setCookie, value: SessionCookies.cleared))
            return response
        }
    }

    private func signIn(
        _ fields: [String: String], next: String, client: SignInClient, forms: SignInForms, record: inout AccessRecord
    ) async -> Response {
        let login = fields["login"] ?? ""
        record.principal = nil
        record.authMethod = "password"
        do {
            return step(
                try await identity.signIn(login: login, password: fields["password"] ?? "", client: client), next: next, forms: forms, record: &record
            )
        } catch {
            record.outcome = error == .unavailable ? .error : .deny
            record.reason = "sign-in refused: \(Self.message(error))"
            return forms.login(Self.status(error), next: next, message: Self.message(error))
        }
    }

    private func secondFactor(
        _ fields: [String: String], next: String, client: SignInClient, forms: SignInForms, record: inout AccessRecord
    ) async -> Response {
        record.authMethod = "password+second_factor"
        do {
            return step(
                try await identity.completeSignIn(challenge: fields["challenge"] ?? "", code: fields["code"] ?? "", client: client),
                next: next, forms: forms, record: &record)
        } catch {
            record.outcome = .deny
            record.reason = "second factor refused"
            return forms.login(.unauthorized, next: next, message: "That code was not accepted. Please sign in again.")
        }
    }

    private func newPassword(
        _ fields: [String: String], next: String, client: SignInClient, forms: SignInForms, record: inout AccessRecord
    ) async -> Response {
        let challenge = fields["challenge"] ?? ""
        do {
            let session = try await identity.completeSignIn(challenge: challenge, newPassword: fields["new_password"] ?? "", client: client)
            return step(.signedIn(session), next: next, forms: forms, record: &record)
        } catch {
            record.outcome = .deny
            if case let .passwordRejected(reason) = error {
                record.reason = "new password rejected"
                return forms.newPassword(.badRequest, challenge: challenge, next: next, message: "That password cannot be used: \(reason).")
            }
            record.reason = "password change refused"
            return forms.login(Self.status(error), next: next, message: "That step expired. Please sign in again.")
        }
    }

    private func step(_ step: SignInStep, next: String, forms: SignInForms, record: inout AccessRecord) -> Response {
        switch step {
        case let .signedIn(session):
            record.principal = SignedInPerson(login: session.login, sessionID: session.sessionID).principal
            record.reason = "signed in (\(session.authMethods.joined(separator: "+"))), session \(session.sessionID)"
            return signedIn(session, next: next, forms: forms)
        case let .secondFactorRequired(challenge):
            record.reason = "password accepted; second factor required"
            return forms.secondFactor(challenge: challenge, next: next, message: nil)
        case let .newPasswordRequired(challenge):
            record.reason = "one-time password accepted; new password required"
            return forms.newPassword(.ok, challenge: challenge, next: next, message: nil)
        }
    }

    /// Ends the identity session: every host's cookie of it stops working on every gateway.
    func signOut(_ current: SignedInPerson?, client: SignInClient, record: inout AccessRecord) async -> Response {
        if let current {
            await identity.endSession(id: current.sessionID, client: client)
            record.reason = "signed out; session \(current.sessionID) ended"
        } else {
            record.reason = "sign-out without an open session"
        }
        var response = Self.redirect(to: Self.prefix + "login")
        response.headers.append(HTTPField(name: .setCookie, value: SessionCookies.cleared))
        return response
    }

    /// Sets this host's session cookie and continues to `next`.
    private func signedIn(_ session: SignedInSession, next: String, forms: SignInForms) -> Response {
        guard let cookie = SessionCookies.sealed(session, codec: codec, settings: settings) else {
            return forms.notice(.serviceUnavailable, title: "Sign in", message: "Signing in is unavailable right now.", link: nil)
        }
        var response = Self.redirect(to: next)
        response.headers[Self.referrerPolicy] = "no-referrer"
        response.headers.append(HTTPField(name: .setCookie, value: cookie))
        return response
    }

    // MARK: Identity providers

    /// `federation/<provider>/start?next=…` sends the browser to the provider with a state cookie;
    /// `federation/<provider>/callback` takes the provider's answer back into a session.
    private func federation(
        _ request: Request, page: Substring, query: [String: String], canonical: CanonicalRequest, client: SignInClient, forms: SignInForms,
        record: inout AccessRecord
    ) async -> Response {
        let parts = page.split(separator: "/", omittingEmptySubsequences: false)
        guard let providers, parts.count == 2, providers.providers.contains(where: { $0.id == parts[0] }) else { return Self.notFound(&record) }
        let provider = String(parts[0])
        let redirectURI = host.origin(of: host.host, requestPort: canonical.port) + Self.prefix + "federation/\(provider)/callback"
        record.authMethod = "federation:" + provider
        switch parts[1] {
        case "start":
            let next = query["next"].flatMap(RedirectTarget.validate) ?? Self.prefix
            do {
                let (url, state) = try await providers.begin(provider: provider, next: next, redirectURI: redirectURI)
                record.reason = "sent to identity provider \(provider)"
                var response = Self.redirect(to: url)
                response.headers.append(
                    HTTPField(
                        name: .setCookie,
                        value: SessionCookies.header(SessionCookies.federation, state, maxAge: 600, sameSite: "Lax")))
                return response
            } catch {
                record.outcome = .error
                record.reason = error.reason
                return forms.notice(.serviceUnavailable, title: "Sign in", message: "That identity provider cannot be reached right now.", link: nil)
            }
        case "callback":
            let state = Authenticator.cookie(named: SessionCookies.federation, in: request.headers)
            do {
                let (session, next) = try await providers.complete(
                    provider: provider, query: query, state: state, redirectURI: redirectURI, client: client)
                var response = step(.signedIn(session), next: RedirectTarget.validate(next) ?? Self.prefix, forms: forms, record: &record)
                response.headers.append(HTTPField(name: .setCookie, value: SessionCookies.clearedFederation))
                return response
            } catch {
                record.outcome = error.unavailable ? .error : .deny
                record.reason = "sign-in with \(provider) refused: \(error.reason)"
                var response = forms.notice(
                    error.unavailable ? .serviceUnavailable : .forbidden, title: "Sign-in failed",
                    message: error.unavailable
                        ? "The identity provider or Portcullis cannot be reached right now. Please try again shortly."
                        : "Signing in with your identity provider did not succeed. Please start again.",
                    link: ("Sign in", Self.prefix + "login"))
                response.headers.append(HTTPField(name: .setCookie, value: SessionCookies.clearedFederation))
                return response
            }
        default:
            return Self.notFound(&record)
        }
    }

    /// OpenID Connect Back-Channel Logout 1.0: the provider posts a logout token (no browser, no
    /// cookie, no CSRF token: the token's signature is the authentication); every session of the
    /// person it names ends at once. 200 when it was accepted, 400 otherwise, as §2.8 asks.
    private func backChannelLogout(_ request: Request, provider: Substring, record: inout AccessRecord) async -> Response {
        guard let providers, providers.providers.contains(where: { $0.id == provider }) else { return Self.notFound(&record) }
        record.authMethod = "federation:" + provider
        let headers: HTTPFields = [.cacheControl: "no-store"]
        guard let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded"),
            let buffer = try? await request.body.collect(upTo: FormPost.maxBytes),
            let text = String(validating: buffer.readableBytesView, as: UTF8.self),
            case let .success(fields) = FormURLEncoded.parse(text), let token = fields["logout_token"]
        else {
            record.outcome = .deny
            record.reason = "back-channel logout without a logout_token"
            return Response(status: .badRequest, headers: headers)
        }
        do {
            let ended = try await providers.backChannelLogout(provider: String(provider), logoutToken: token)
            record.reason = "back-channel logout from \(provider): \(ended) session(s) ended"
            return Response(status: .ok, headers: headers)
        } catch {
            record.outcome = error.unavailable ? .error : .deny
            record.reason = "back-channel logout from \(provider) refused: \(error.reason)"
            return Response(status: error.unavailable ? .serviceUnavailable : .badRequest, headers: headers)
        }
    }

    // MARK: Helpers

    /// The route host a sign-in continues to when `next` is this host's single sign-on step: its
    /// forms must be allowed to end there (CSP `form-action` covers a submission's redirects).
    private func formTarget(_ next: String, routes: RouteTable<RouteSettings>, port: UInt16?) async -> String? {
        if let target = signOnTarget(next, routes: routes, port: port) { return target }
        return await openIDTarget(next, port: port)
    }

    private func signOnTarget(_ next: String, routes: RouteTable<RouteSettings>, port: UInt16?) -> String? {
        let signOn = Self.prefix + "sso?"
        guard next.hasPrefix(signOn), let target = Self.query(String(next.dropFirst(signOn.count)))["host"],
            SignInHost.isCanonicalHost(target), target != host.host, routes.serves(host: target)
        else { return nil }
        return host.origin(of: target, requestPort: port)
    }

    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func notFound(_ record: inout AccessRecord) -> Response {
        record.outcome = .deny
        record.reason = "no such page"
        return GatewayAnswers.json(.notFound, ["error": "not_found", "message": "no such page"], requestID: record.requestID)
    }

    static func query(_ query: String?) -> [String: String] {
        guard let query, case let .success(fields) = FormURLEncoded.parse(query) else { return [:] }
        return fields
    }

    private static func status(_ failure: SignInFailure) -> HTTPResponse.Status {
        switch failure {
        case .throttled: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .notAccepted, .passwordRejected: .unauthorized
        }
    }

    private static func message(_ failure: SignInFailure) -> String {
        switch failure {
        case .throttled(let seconds): "Too many attempts. Try again in \(seconds) seconds."
        case .unavailable: "Signing in is unavailable right now. Please try again shortly."
        case .notAccepted, .passwordRejected: "The login or password is not correct."
        }
    }
}

/// Who holds a session on the sign-in host.
struct SignedInPerson: Sendable {
    let login: String
    let sessionID: String
    /// The session as the gateway authenticated it (roles, second factor, provider).
    var authenticated: Principal? = nil

    var principal: String { "User::\"\(login)\"" }
}
