import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird

/// Why the gateway answers a request itself instead of forwarding it, with everything the
/// answer and the audit record need. Each admission step throws one; ``answer(recording:fields:)``
/// is the only place a refusal becomes a response, so every 4xx and 5xx the gateway writes on its
/// own account is in this file.
struct Refusal: Error, Sendable {
    /// How the answer is written.
    enum Form: Sendable {
        /// `{"error": code, "message": …, "request_id": …}`.
        case json
        /// A browser navigating gets an HTML page with this title and text; other clients JSON.
        case pageForBrowsers(title: String, text: String)
        /// The caller must sign in: a browser navigating is sent to single sign-on on the sign-in
        /// host; other clients get 401 with that URL as `login_url`. nil: the gateway has no
        /// sign-in host, so only a 401 (a page for browsers).
        case signIn(url: String?)
    }

    let status: HTTPResponse.Status
    /// The `error` field of the JSON answer.
    let code: String
    let message: String
    let outcome: AccessOutcome
    /// What the audit record says; nil when the outcome says enough.
    let reason: String?
    var headers: HTTPFields = [:]
    var form = Form.json

    /// Records the refusal in `record` and writes the answer.
    func answer(recording record: inout AccessRecord, fields: HTTPFields) -> Response {
        record.outcome = outcome
        record.reason = reason
        return response(fields: fields, requestID: record.requestID)
    }

    func response(fields: HTTPFields, requestID: String) -> Response {
        // A gRPC client reads only a status in the trailers, whatever the form.
        if GRPCRefusal.isGRPC(fields) {
            var headers = headers
            if case .signIn = form { headers[.wwwAuthenticate] = #"Bearer realm="portcullis""# }
            return GRPCRefusal.response(status, message: message, requestID: requestID, headers: headers)
        }
        switch form {
        case .json:
            return GatewayAnswers.json(status, ["error": code, "message": message], requestID: requestID, headers: headers)
        case let .pageForBrowsers(title, text) where GatewayAnswers.isBrowserNavigation(fields):
            var response = GatewayAnswers.page(status, title: title, message: text, requestID: requestID)
            response.headers.append(contentsOf: headers)
            return response
        case .pageForBrowsers:
            return GatewayAnswers.json(status, ["error": code, "message": message], requestID: requestID, headers: headers)
        case let .signIn(url?) where GatewayAnswers.isBrowserNavigation(fields):
            var redirect: HTTPFields = [.location: url, .cacheControl: "no-store"]
            redirect.append(contentsOf: headers)
            return Response(status: .found, headers: redirect)
        case .signIn(nil) where GatewayAnswers.isBrowserNavigation(fields):
            var response = GatewayAnswers.page(
                status, title: "Sign-in required", message: "This gateway has no sign-in page; present a token or a client certificate.",
                requestID: requestID)
            response.headers.append(contentsOf: headers)
            return response
        case let .signIn(url):
            var challenge = headers
            challenge[.wwwAuthenticate] = #"Bearer realm="portcullis""#
            var body = ["error": "unauthenticated", "message": message]
            body["login_url"] = url
            return GatewayAnswers.json(.unauthorized, body, requestID: requestID, headers: challenge)
        }
    }
}

// MARK: The refusals

extension Refusal {
    /// The audit trail cannot take the record, and the overflow policy forbids answering
    /// unrecorded requests.
    static func auditUnavailable(retryAfterSeconds: Int) -> Refusal {
        Refusal(
            status: .serviceUnavailable, code: "unavailable", message: "the audit trail cannot record requests right now",
            outcome: .error, reason: "audit trail cannot record", headers: [.retryAfter: String(retryAfterSeconds)])
    }

    static func tooManyHeaders(limit: Int) -> Refusal {
        Refusal(
            status: .init(code: 431), code: "too_many_headers", message: "the request has more than \(limit) header fields",
            outcome: .error, reason: "more than \(limit) header fields")
    }

    /// A request the canonicalizer refuses: ambiguous paths, hosts and framing.
    static func malformed(_ rejection: RequestRejection) -> Refusal {
        Refusal(status: .badRequest, code: "bad_request", message: rejection.description, outcome: .error, reason: rejection.description)
    }

    static let noRoute = Refusal(
        status: .notFound, code: "not_found", message: "no route for this host and path", outcome: .deny,
        reason: "no route")

    /// Credentials that were presented and do not hold, or a feed outage that makes them
    /// impossible to check (503, retry).
    static func unauthenticated(_ failure: AuthenticationFailure, canonical: CanonicalRequest, signIn host: SignInHost?) -> Refusal {
        switch failure {
        case _ where failure.isUnavailable:
            return Refusal(
                status: .serviceUnavailable, code: "unavailable", message: failure.description, outcome: .error,
                reason: failure.description, headers: [.retryAfter: "2"])
        case .invalidSession:
            // A browser whose session ended is signed in again, and the dead cookie is cleared so
            // it is not presented again (docs/policy-model.md).
            var refusal = signIn(canonical, host, message: "the session has expired or ended; log in again", reason: failure.description)
            refusal.headers.append(HTTPField(name: .setCookie, value: SessionCookies.cleared))
            return refusal
        default:
            return Refusal(
                status: .unauthorized, code: "unauthenticated", message: failure.description, outcome: .deny,
                reason: failure.description, headers: [.wwwAuthenticate: #"Bearer realm="portcullis", error="invalid_token""#])
        }
    }

    /// The route's own settings refuse the caller: anonymous callers are asked to sign in as
    /// when policy denies them; the others get 403 with what the route requires.
    static func route(_ refusal: RouteRefusal, canonical: CanonicalRequest, signIn host: SignInHost?) -> Refusal {
        switch refusal {
        case .anonymousOnPrivateRoute:
            signIn(canonical, host, reason: refusal.description)
        case .clientCertificateRequired:
            Refusal(
                status: .forbidden, code: "client_certificate_required", message: refusal.description, outcome: .deny,
                reason: refusal.description)
        case .authMethodNotAccepted:
            Refusal(
                status: .forbidden, code: "auth_method_not_accepted", message: refusal.description, outcome: .deny,
                reason: refusal.description)
        }
    }

    /// Policy denies the request: an anonymous caller is asked to sign in; a person in a browser
    /// gets a page, everything else JSON. `errors`: policies that erred, if any.
    static func denied(anonymous: Bool, errors: [String], canonical: CanonicalRequest, signIn host: SignInHost?) -> Refusal {
        let reason = errors.isEmpty ? nil : errors.joined(separator: "; ")
        if anonymous { return signIn(canonical, host, reason: reason) }
        return Refusal(
            status: .forbidden, code: "forbidden", message: "policy denies this request", outcome: .deny, reason: reason,
            form: .pageForBrowsers(
                title: "Access denied",
                text: "Your account is not allowed to open this page. If you need it, ask your administrator."))
    }

    static func bodyTooLarge(length: Int, limit: Int) -> Refusal {
        Refusal(
            status: .contentTooLarge, code: "body_too_large", message: "the request body exceeds \(limit) bytes", outcome: .deny,
            reason: "body of \(length) bytes exceeds the route's limit")
    }

    static let assertionUnavailable = Refusal(
        status: .serviceUnavailable, code: "unavailable", message: "identity assertion unavailable",
        outcome: .error, reason: "cannot sign the identity assertion")

    /// An upgrade on a route that does not take WebSockets, or on a later request of a connection.
    static let upgradeNotAllowed = Refusal(
        status: .badRequest, code: "upgrade_not_allowed",
        message: "this route does not accept WebSocket or other upgrades", outcome: .deny,
        reason: "upgrade not allowed on this route")

    /// A WebSocket opened by a page on another origin than the route's own or one its `cors:`
    /// lists (cross-site WebSocket hijacking: the handshake carries the route host's cookies).
    static func webSocketFromOtherOrigin(_ origin: String) -> Refusal {
        Refusal(
            status: .forbidden, code: "origin_not_allowed", message: "a page on \(origin) may not open WebSockets to this route",
            outcome: .deny, reason: "WebSocket opened by a page on \(origin), which the route does not list")
    }

    /// An upgrade the gateway admitted but could not carry out on this connection.
    static let upgradeFailed = Refusal(
        status: .internalServerError, code: "upgrade_failed",
        message: "the WebSocket upgrade could not be prepared", outcome: .error,
        reason: "upgrade could not be prepared")

    /// No credentials where they are needed: where signing in starts, returning to this request.
    /// On the sign-in host (the console) that is its own sign-in page; on a route host, single
    /// sign-on through the sign-in host.
    private static func signIn(
        _ canonical: CanonicalRequest, _ host: SignInHost?, message: String = "log in or present a bearer token",
        reason: String?
    ) -> Refusal {
        var next = canonical.path
        if let query = canonical.query { next += "?" + query }
        let target = RedirectTarget.validate(next) ?? "/"
        let url = host.map { host in
            canonical.host == host.host
                ? SignInPages.prefix + "login?next=" + SignInHost.escaped(target)
                : host.signOnURL(for: canonical.host, next: target, requestPort: canonical.port)
        }
        return Refusal(status: .unauthorized, code: "unauthenticated", message: message, outcome: .deny, reason: reason, form: .signIn(url: url))
    }
}
