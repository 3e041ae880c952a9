import AccessModel
import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird
import NIOCore

/// Decides whether a person may sign in to a tool (`Action::"oidc.sign_in"`), with the facts of
/// the request the gateway is answering.
typealias SignInDecider = @Sendable (_ person: Principal, _ client: String, _ labels: [String: String]) -> AccessDecision

/// The OpenID provider's endpoints on the sign-in host: discovery, keys, the authorization
/// endpoint (the browser's side: session, re-authentication, the Cedar decision, the denial
/// page), and the back-channel token, userinfo and revocation endpoints.
extension SignInPages {
    static let discoveryPath = "/.well-known/openid-configuration"
    /// Added to the authorization request a re-authentication returns to: the time the new
    /// sign-in must be later than (so `prompt=login` and `max_age` do not ask again and again).
    static let authenticatedAfter = "portcullis_auth_after"
    private static let backChannelBodyLimit = 64 * 1024

    func openIDPage(
        _ request: Request, page: Substring, canonical: CanonicalRequest, current: SignedInPerson?, client: SignInClient,
        forms: SignInForms, decide: SignInDecider, record: inout AccessRecord
    ) async -> Response {
        guard let openID else { return Self.notFound(&record) }
        let issuer = host.origin(of: host.host, requestPort: canonical.port)
        record.authMethod = record.authMethod ?? "oidc"
        switch (canonical.method, page) {
        case (.get, "discovery"):
            return Self.json(200, openID.discovery(issuer: issuer), cache: "public, max-age=300")
        case (.get, "jwks"):
            return Self.json(200, openID.keySet(), cache: "public, max-age=300")
        case (.get, "authorize"):
            return await authorize(canonical, current: current, issuer: issuer, client: client, forms: forms, decide: decide, record: &record)
        case (.options, "token"), (.options, "revoke"), (.options, "userinfo"):
            // CORS preflight: only from a public client's own origin.
            guard let origin = request.headers[.origin], await openID.allowsBrowserOrigin(origin) else {
                record.outcome = .deny
                record.reason = "CORS preflight from an origin no public client registered"
                return Response(status: .forbidden, headers: [.cacheControl: "no-store"])
            }
            record.reason = "CORS preflight from \(origin)"
            return Response(
                status: .noContent,
                headers: [
                    .accessControlAllowOrigin: origin, .accessControlAllowMethods: "GET, POST",
                    .accessControlAllowHeaders: "authorization, content-type", .accessControlMaxAge: "600", .vary: "Origin",
                ])
        case (.post, "token"), (.post, "revoke"):
            guard let form = await Self.form(request) else {
                record.outcome = .deny
                record.reason = "not an application/x-www-form-urlencoded body"
                return Self.answer(OpenIDAnswer(status: 400, body: Array(#"{"error":"invalid_request"}"#.utf8), reason: "", allowed: false))
            }
            let authorization = request.headers[.authorization]
            let answer =
                page == "token"
                ? await openID.token(form: form, authorization: authorization, issuer: issuer, client: client)
                : await openID.revoke(form: form, authorization: authorization, issuer: issuer, client: client)
            record.outcome = answer.allowed ? .allow : answer.status >= 500 ? .error : .deny
            record.reason = answer.reason
            return await withCORS(Self.answer(answer), request)
        case (.get, "logout"):
            return await logout(canonical.query ?? "", current: current, issuer: issuer, forms: forms, record: &record)
        case (.post, "logout"):
            guard let post = await FormPost.accept(request, host: canonical.host) else {
                record.outcome = .deny
                record.reason = "form post without this host's CSRF token, or from another origin"
                return forms.notice(.forbidden, title: "Sign out", message: "The form expired or did not come from this site.", link: nil)
            }
            let original = post.fields["request"] ?? ""
            switch await openID.checkLogout(Self.query(original), issuer: issuer) {
            case let .refused(reason):
                return refusedLogout(reason, forms: forms, record: &record)
            case let .valid(_, redirect):
                var response = await signOut(current, client: client, record: &record)
                if let redirect { response.headers[.location] = redirect }
                return response
            }
        case (.get, "userinfo"), (.post, "userinfo"):
            // RFC 6750 §2.2: a POST may carry the token as the form parameter `access_token`.
            var authorization = request.headers[.authorization]
            if authorization == nil, canonical.method == .post, let token = await Self.form(request)?["access_token"] {
                authorization = "Bearer " + token
            }
            let answer = await openID.userInfo(authorization: authorization, issuer: issuer)
            record.outcome = answer.allowed ? .allow : answer.status >= 500 ? .error : .deny
            record.reason = answer.reason
            return await withCORS(Self.answer(answer), request)
        default:
            return Self.notFound(&record)
        }
    }

    /// The authorization endpoint: an invalid client or redirect URI is a page (never a redirect);
    /// a person without a (recent enough) session signs in first; Cedar decides; then the code.
    private func authorize(
        _ canonical: CanonicalRequest, current: SignedInPerson?, issuer: String, client: SignInClient, forms: SignInForms,
        decide: SignInDecider, record: inout AccessRecord
    ) async -> Response {
        guard let openID else { return Self.notFound(&record) }
        let query = Self.query(canonical.query)
        let checked: OpenIDAuthorizationRequest
        switch await openID.check(authorization: query, issuer: issuer) {
        case let .refused(reason):
            record.outcome = .deny
            record.reason = "authorization request refused: \(reason)"
            return forms.notice(
                .badRequest, title: "Sign-in link not valid",
                message: "The application sent you here with a request Portcullis does not accept (\(reason)). Please tell its owner.",
                link: nil)
        case let .redirectedError(url, reason):
            record.outcome = .deny
            record.reason = "authorization request refused: \(reason)"
            return Self.found(url)
        case let .valid(request):
            checked = request
        }
        let after = query[Self.authenticatedAfter].flatMap(Double.init).map(Date.init(timeIntervalSince1970:))
        let authenticatedAt = current?.authenticated?.authenticatedAt ?? .distantPast
        // A sign-in made for this request (after the marker) satisfies `prompt=login` and `max_age`,
        // even `max_age=0`; without one, the session must be recent enough.
        let fresh: Bool
        if let after {
            fresh = authenticatedAt >= after
        } else {
            fresh = checked.prompt != "login" && checked.maxAge.map { Date().timeIntervalSince(authenticatedAt) <= $0 } != false
        }
        guard let current, let principal = current.authenticated, fresh else {
            if checked.prompt == "none" {
                record.outcome = .deny
                record.reason = "prompt=none without a sign-in that satisfies \(checked.clientID)"
                return Self.found(checked.errorRedirect("login_required", description: "the person must sign in", issuer: issuer))
            }
            // Back here after signing in; a forced re-authentication must be newer than now.
            var again = (canonical.query ?? "").split(separator: "&").filter { !$0.hasPrefix(Self.authenticatedAfter + "=") }.joined(separator: "&")
            let fresh = current != nil
            if fresh { again += "&\(Self.authenticatedAfter)=\(Int(Date().timeIntervalSince1970))" }
            let next = Self.prefix + "oidc/authorize?" + again
            record.reason = "sign-in required for \(checked.clientID)"
            return Self.redirect(to: Self.prefix + "login?next=" + SignInHost.escaped(next) + (fresh ? "&prompt=login" : ""))
        }
        // The record names what Cedar decided on, so `policy explain` and `diff` can replay it.
        record.target = "Client::\"\(checked.clientID)\""
        let decision = decide(principal, checked.clientID, checked.labels)
        record.policies = decision.policies
        record.policyVersion = decision.policyVersion
        record.policyErrors = decision.errors
        guard decision.allowed else {
            record.outcome = .deny
            record.reason = "Cedar denied oidc.sign_in to \(checked.clientID)"
            if checked.prompt == "none" {
                return Self.found(checked.errorRedirect("access_denied", description: "not allowed by policy", issuer: issuer))
            }
            return forms.notice(
                .forbidden, title: "Not allowed",
                message: "\(current.login) may not sign in to \(checked.clientName). If you need it, ask its owner or the security team.",
                link: ("Signed in as \(current.login)", Self.prefix))
        }
        let person = OpenIDPerson(
            login: current.login, sessionID: current.sessionID, authenticatedAt: principal.authenticatedAt ?? Date(),
            methods: Self.methods(of: principal))
        switch await openID.authorize(checked, person: person, issuer: issuer, client: client) {
        case let .redirect(url, reason):
            record.reason = reason
            var response = Self.found(url)
            response.headers[Self.referrerPolicy] = "no-referrer"
            return response
        case let .failed(reason, unavailable):
            record.outcome = unavailable ? .error : .deny
            record.reason = reason
            return forms.notice(
                unavailable ? .serviceUnavailable : .forbidden, title: "Sign in",
                message: unavailable
                    ? "Signing in is unavailable right now. Please try again shortly." : "Your session has ended. Please sign in again.",
                link: ("Sign in", Self.prefix + "login"))
        }
    }

    /// RP-initiated logout: a confirmation form for a signed-in person (a link alone signs no one
    /// out); without a session, straight on to where the tool asked to return.
    private func logout(
        _ rawQuery: String, current: SignedInPerson?, issuer: String, forms: SignInForms, record: inout AccessRecord
    ) async -> Response {
        guard let openID else { return Self.notFound(&record) }
        switch await openID.checkLogout(Self.query(rawQuery), issuer: issuer) {
        case let .refused(reason):
            return refusedLogout(reason, forms: forms, record: &record)
        case let .valid(clientName, redirect):
            guard let current else {
                record.reason = "logout requested without a session"
                return Self.found(redirect ?? Self.prefix + "login")
            }
            record.reason = "logout confirmation for \(clientName ?? "a tool")"
            let target = redirect.flatMap(URLComponents.init(string:)).flatMap { components -> String? in
                guard let scheme = components.scheme, let host = components.host else { return nil }
                return scheme + "://" + host + (components.port.map { ":\($0)" } ?? "")
            }
            return forms.redirecting(to: target).openIDSignOut(login: current.login, clientName: clientName, request: rawQuery)
        }
    }

    private func refusedLogout(_ reason: String, forms: SignInForms, record: inout AccessRecord) -> Response {
        record.outcome = .deny
        record.reason = "logout request refused: \(reason)"
        return forms.notice(
            .badRequest, title: "Sign-out link not valid",
            message: "The application sent you here with a request Portcullis does not accept (\(reason)).",
            link: ("Sign out of Portcullis", Self.prefix + "logout"))
    }

    /// RFC 8176 methods of the session: `pwd` or `fed`, with `otp` and `mfa` after a second factor.
    static func methods(of principal: Principal) -> [String] {
        var methods = [principal.identityProvider == nil ? "pwd" : "fed"]
        if principal.mfa { methods += principal.identityProvider == nil ? ["otp", "mfa"] : ["mfa"] }
        return methods
    }

    /// The origin an authorization request in `next` ends on (its registered redirect URI), so
    /// the sign-in form's CSP `form-action` allows the redirects after the submission.
    func openIDTarget(_ next: String, port: UInt16?) async -> String? {
        let authorize = Self.prefix + "oidc/authorize?"
        guard let openID, next.hasPrefix(authorize) else { return nil }
        let issuer = host.origin(of: host.host, requestPort: port)
        guard case let .valid(request) = await openID.check(authorization: Self.query(String(next.dropFirst(authorize.count))), issuer: issuer),
            let components = URLComponents(string: request.redirectURI), let scheme = components.scheme, let target = components.host
        else { return nil }
        return scheme + "://" + target + (components.port.map { ":\($0)" } ?? "")
    }

    /// A back-channel answer readable by a public client's page: its origin, and only it.
    private func withCORS(_ response: Response, _ request: Request) async -> Response {
        guard let openID, let origin = request.headers[.origin], await openID.allowsBrowserOrigin(origin) else { return response }
        var response = response
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.vary] = "Origin"
        return response
    }

    private static func form(_ request: Request) async -> [String: String]? {
        guard let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded"),
            let buffer = try? await request.body.collect(upTo: backChannelBodyLimit),
            let text = String(validating: buffer.readableBytesView, as: UTF8.self),
            case let .success(fields) = FormURLEncoded.parse(text)
        else { return nil }
        return fields
    }

    private static func answer(_ answer: OpenIDAnswer) -> Response {
        var headers = HTTPFields()
        for (name, value) in answer.headers { if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) } }
        return Response(
            status: HTTPResponse.Status(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    private static func json(_ status: Int, _ body: [UInt8], cache: String) -> Response {
        Response(
            status: HTTPResponse.Status(code: status),
            headers: [.contentType: "application/json", .cacheControl: cache, .accessControlAllowOrigin: "*"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// OAuth redirects are 302 (RFC 6749 §4.1.2 examples; every client follows it).
    private static func found(_ location: String) -> Response {
        Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
    }
}
