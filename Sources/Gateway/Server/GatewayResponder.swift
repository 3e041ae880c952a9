import Audit
import Foundation
import HTTPTypes
import Hummingbird
import Identity
import Logging
import NIOCore
import Synchronization
import Tokens

/// The route table in force, swapped whole on reload like the policy set.
public final class RouteHolder: Sendable {
    private let current: Mutex<RouteTable<RouteSettings>>

    public init(_ table: RouteTable<RouteSettings>) { current = Mutex(table) }

    public var table: RouteTable<RouteSettings> { current.withLock { $0 } }

    public func replace(with table: RouteTable<RouteSettings>) { current.withLock { $0 = table } }
}

/// Every request's path through the gateway: canonicalize once, route, authenticate, authorize
/// with Cedar, forward with a signed identity assertion, and record the decision. Each step
/// fails closed, and the canonical request computed first is the one routed, decided, forwarded
/// and audited.
public struct GatewayResponder: Sendable {
    let settings: GatewaySettings
    let routes: RouteHolder
    let authenticator: Authenticator
    let access: AccessControl
    let forwarder: UpstreamForwarder
    let signer: @Sendable () throws -> TokenSigner
    let recorder: any AuditRecorder
    let browserLogin: BrowserLogin?
    /// The admin console, when this process serves it; its prefix answers 404 otherwise.
    let embedded: EmbeddedMount?
    let metrics: GatewayMetrics
    /// TLS facts of the open client connections, registered by the listener.
    let connections: ConnectionFacts
    let logger: Logger

    public init(settings: GatewaySettings, routes: RouteHolder, authenticator: Authenticator, access: AccessControl,
                forwarder: UpstreamForwarder, signer: @escaping @Sendable () throws -> TokenSigner, recorder: any AuditRecorder,
                browserLogin: BrowserLogin?, embedded: EmbeddedMount? = nil, metrics: GatewayMetrics = GatewayMetrics(),
                connections: ConnectionFacts = ConnectionFacts(), logger: Logger) {
        self.settings = settings
        self.routes = routes
        self.authenticator = authenticator
        self.access = access
        self.forwarder = forwarder
        self.signer = signer
        self.recorder = recorder
        self.browserLogin = browserLogin
        self.embedded = embedded
        self.metrics = metrics
        self.connections = connections
        self.logger = logger
    }

    /// A request that passed every check, with the headers to send upstream, or the embedded
    /// application that answers it instead of an upstream.
    struct Admitted {
        let canonical: CanonicalRequest
        let route: RouteSettings
        let principal: Principal
        let headers: HTTPFields
        var application: (any EmbeddedApplication)? = nil
    }

    /// What the checks concluded: the gateway answers itself, serves its login pages, or forwards.
    enum Admission {
        case answer(Response)
        case login(CanonicalRequest)
        case forward(Admitted)
    }

    public func respond(to request: Request, context: GatewayRequestContext) async -> Response {
        let started = ContinuousClock.now
        var record = AccessRecord(requestID: Self.newRequestID(), clientAddress: context.clientAddress)
        let response: Response
        let tls = connections.facts(for: context.channel)
        var request = request
        var watch: BodyWatch?
        /// Reads of the body from here on keep to `pace`.
        func watchBody(_ canonical: CanonicalRequest, _ pace: BodyPace) {
            guard UpstreamForwarder.upstreamFraming(canonical, fromHTTP2Client: tls.http2) != .unframed else { return }
            let bodyWatch = BodyWatch(pace: pace, channel: context.channel)
            request.body = bodyWatch.paced(request.body)
            watch = bodyWatch
        }
        switch await admit(request.head, clientAddress: context.clientAddress, tls: tls, record: &record) {
        case let .answer(answer):
            response = answer
        case let .login(canonical):
            watchBody(canonical, .standard)
            response = await browserLogin?.respond(request, canonical: canonical, clientAddress: context.clientAddress, requestID: record.requestID)
                ?? GatewayAnswers.json(.notFound, ["error": "not_found", "message": "no login pages here"], requestID: record.requestID)
        case let .forward(admitted):
            watchBody(admitted.canonical, admitted.route.bodyPace)
            if let application = admitted.application {
                let caller = EmbeddedCaller(principal: admitted.principal, requestID: record.requestID, policies: record.policies,
                                            policyVersion: record.policyVersion, clientAddress: context.clientAddress,
                                            host: admitted.canonical.host, path: admitted.canonical.path)
                response = Self.stamped(await application.respond(to: request, caller: caller), requestID: record.requestID,
                                        principal: admitted.principal)
            } else {
                response = await forward(request, admitted, eventLoop: context.channel.eventLoop, http2: tls.http2, record: &record)
            }
        }
        if let violation = watch?.violation {
            record.outcome = .error
            record.reason = violation.description
        }
        guard await finish(&record, status: Int(response.status.code), started: started) else {
            // Not recorded, and the overflow policy forbids answering unrecorded requests: the
            // upstream's answer is dropped (its connection is abandoned) rather than delivered.
            return GatewayAnswers.json(.serviceUnavailable, ["error": "unavailable", "message": "the audit trail cannot record requests right now"],
                                       requestID: record.requestID, headers: [.retryAfter: "1"])
        }
        return response
    }

    /// Stamps the duration, counts the outcome and hands the record to the audit trail; false
    /// when the answer must not go out because its event could not be recorded.
    func finish(_ record: inout AccessRecord, status: Int, started: ContinuousClock.Instant) async -> Bool {
        let elapsed = ContinuousClock.now - started
        record.durationMicros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        metrics.record(route: record.route, outcome: record.outcome, duration: elapsed)
        return await recorder.recordBeforeAnswering(record.event(status: status))
    }

    /// Canonicalize, route, authenticate, apply the route's admission rules and decide with
    /// Cedar. Shared by plain requests and WebSocket upgrades, so both pass the same checks.
    func admit(_ head: HTTPRequest, clientAddress: String, tls: TLSFacts, record: inout AccessRecord) async -> Admission {
        let requestID = record.requestID
        guard recorder.isAcceptingTraffic else {
            record.outcome = .error
            record.reason = "audit trail cannot record"
            return .answer(GatewayAnswers.json(.serviceUnavailable, ["error": "unavailable", "message": "the audit trail cannot record requests right now"],
                                               requestID: requestID, headers: [.retryAfter: "5"]))
        }
        guard head.headerFields.count <= settings.limits.maxHeaderCount else {
            record.outcome = .error
            record.reason = "more than \(settings.limits.maxHeaderCount) header fields"
            record.method = head.method.rawValue
            return .answer(GatewayAnswers.json(.init(code: 431), ["error": "too_many_headers",
                                                                  "message": "the request has more than \(settings.limits.maxHeaderCount) header fields"],
                                               requestID: requestID))
        }
        let canonical: CanonicalRequest
        do {
            canonical = try RequestCanonicalizer.canonicalize(head)
        } catch {
            record.outcome = .error
            record.reason = error.description
            record.method = head.method.rawValue
            return .answer(GatewayAnswers.json(.badRequest, ["error": "bad_request", "message": error.description], requestID: requestID))
        }
        record.method = canonical.method.rawValue
        record.target = canonical.path
        let mounted = embedded.flatMap { $0.matches(canonical.path) ? $0 : nil }
        if mounted == nil, canonical.path.hasPrefix(BrowserLogin.prefix), browserLogin != nil {
            record.route = "portcullis-login"
            record.outcome = .allow
            return .login(canonical)
        }
        guard let route = mounted?.route ?? routes.table.match(canonical)?.payload else {
            record.outcome = .deny
            record.reason = "no route"
            return .answer(GatewayAnswers.json(.notFound, ["error": "not_found", "message": "no route for this host and path"], requestID: requestID))
        }
        record.route = route.id
        let certificate = tls.certificate
        let principal: Principal
        do {
            principal = try authenticator.authenticate(head.headerFields, certificate: certificate)
        } catch let outage where outage.isUnavailable {
            record.outcome = .error
            record.reason = outage.description
            return .answer(GatewayAnswers.json(.serviceUnavailable, ["error": "unavailable", "message": outage.description],
                                               requestID: requestID, headers: [.retryAfter: "2"]))
        } catch let .invalidSession(reason) {
            // A browser whose session ended is signed in again, and the dead cookie is cleared so
            // it is not presented again (docs/policy-model.md).
            record.outcome = .deny
            record.reason = AuthenticationFailure.invalidSession(reason).description
            var answer = unauthenticated(head.headerFields, canonical: canonical, requestID: requestID,
                                         message: "the session has expired or ended; log in again")
            answer.headers.append(HTTPField(name: .setCookie, value: BrowserLogin.clearedSessionCookie))
            return .answer(answer)
        } catch {
            record.outcome = .deny
            record.reason = error.description
            return .answer(GatewayAnswers.json(.unauthorized, ["error": "unauthenticated", "message": error.description], requestID: requestID,
                                               headers: [.wwwAuthenticate: #"Bearer realm="portcullis", error="invalid_token""#]))
        }
        record.principal = principal.uid.description
        record.authMethod = principal.method?.rawValue ?? "none"
        if let refusal = route.refusal(of: principal, certificate: certificate) {
            record.outcome = .deny
            record.reason = refusal.description
            return .answer(answer(refusal, fields: head.headerFields, canonical: canonical, requestID: requestID))
        }
        let decision = access.decide(principal: principal, route: route, request: canonical,
                                     facts: RequestFacts(clientAddress: clientAddress, tlsVersion: tls.version, certificate: certificate))
        record.policies = decision.policies
        record.policyVersion = decision.policyVersion
        record.policyErrors = decision.errors
        guard decision.allowed else {
            record.outcome = .deny
            record.reason = decision.errors.isEmpty ? nil : decision.errors.joined(separator: "; ")
            if principal.kind == .anonymous { return .answer(unauthenticated(head.headerFields, canonical: canonical, requestID: requestID)) }
            if GatewayAnswers.isBrowserNavigation(head.headerFields) {
                return .answer(GatewayAnswers.page(.forbidden, title: "Access denied",
                                                   message: "Your account is not allowed to open this page. If you need it, ask your administrator.",
                                                   requestID: requestID))
            }
            return .answer(GatewayAnswers.json(.forbidden, ["error": "forbidden", "message": "policy denies this request"], requestID: requestID))
        }
        if case let .contentLength(length) = canonical.bodyFraming, length > route.maxBodyBytes {
            record.outcome = .deny
            record.reason = "body of \(length) bytes exceeds the route's limit"
            return .answer(GatewayAnswers.json(.contentTooLarge, ["error": "body_too_large",
                                                                  "message": "the request body exceeds \(route.maxBodyBytes) bytes"], requestID: requestID))
        }
        if let mounted {
            record.outcome = .allow
            return .forward(Admitted(canonical: canonical, route: route, principal: principal, headers: [:], application: mounted.application))
        }
        do {
            let headers = try upstreamHeaders(head.headerFields, canonical: canonical, route: route, principal: principal,
                                              clientAddress: clientAddress, requestID: requestID)
            record.outcome = .allow
            return .forward(Admitted(canonical: canonical, route: route, principal: principal, headers: headers))
        } catch {
            record.outcome = .error
            record.reason = "cannot sign the identity assertion"
            logger.error("cannot sign the identity assertion", metadata: ["request_id": "\(requestID)"])
            return .answer(GatewayAnswers.json(.serviceUnavailable, ["error": "unavailable", "message": "identity assertion unavailable"], requestID: requestID))
        }
    }

    /// New upstream connections are opened on `eventLoop`, the client connection's; `http2`
    /// says how the client connection speaks.
    private func forward(_ request: Request, _ admitted: Admitted, eventLoop: any EventLoop, http2: Bool,
                         record: inout AccessRecord) async -> Response {
        let requestID = record.requestID
        if Self.asksForUpgrade(request.headers) {
            // Upgrades the route allows were taken over by the WebSocket channel before reaching
            // here; this is any other (an HTTP/1.1 `Upgrade` on a later request of a connection).
            return refuseUpgrade(record: &record)
        }
        do {
            let response = try await forwarder.forward(request, canonical: admitted.canonical, route: admitted.route, headers: admitted.headers,
                                                       eventLoop: eventLoop, toHTTP2Client: http2)
            return Self.stamped(response, requestID: requestID, principal: admitted.principal)
        } catch {
            record.reason = "upstream: \(error)"
            switch error {
            case .saturated:
                metrics.recordUpstreamFailure(route: admitted.route.id, .saturated)
                return GatewayAnswers.json(.serviceUnavailable, ["error": "upstream_busy",
                                                                 "message": "the upstream service has too many requests in progress"],
                                           requestID: requestID, headers: [.retryAfter: "1"])
            case .timedOut:
                metrics.recordUpstreamFailure(route: admitted.route.id, .timeout)
                return GatewayAnswers.json(.gatewayTimeout, ["error": "upstream_timeout", "message": "the upstream service did not answer"],
                                           requestID: requestID)
            case .unreachable:
                metrics.recordUpstreamFailure(route: admitted.route.id, .unreachable)
                return GatewayAnswers.json(.badGateway, ["error": "bad_gateway", "message": "the upstream service did not answer"],
                                           requestID: requestID)
            }
        }
    }

    /// Adds the request id and, when the session's idle window was renewed, the new cookie.
    private static func stamped(_ response: Response, requestID: String, principal: Principal) -> Response {
        var response = response
        response.headers[GatewayHeaders.requestID] = requestID
        if let renewed = principal.renewedSessionCookie {
            response.headers.append(HTTPField(name: .setCookie, value: BrowserLogin.cookie(
                IdentityHeaderFilter.sessionCookieName, renewed.value, maxAge: renewed.maxAge, sameSite: "Lax")))
        }
        return response
    }

    func refuseUpgrade(record: inout AccessRecord) -> Response {
        record.outcome = .deny
        record.reason = "upgrade not allowed on this route"
        return GatewayAnswers.json(.badRequest, ["error": "upgrade_not_allowed", "message": "this route does not accept WebSocket or other upgrades"],
                                   requestID: record.requestID)
    }

    /// An upgrade the gateway admitted but could not carry out on this connection.
    func failUpgrade(record: inout AccessRecord) -> Response {
        record.outcome = .error
        record.reason = "upgrade could not be prepared"
        return GatewayAnswers.json(.internalServerError, ["error": "upgrade_failed", "message": "the WebSocket upgrade could not be prepared"],
                                   requestID: record.requestID)
    }

    static func asksForUpgrade(_ fields: HTTPFields) -> Bool {
        fields[.upgrade] != nil
    }

    /// A refusal by the route's settings: anonymous callers are asked to sign in as when policy
    /// denies them; the others get 403 with what the route requires.
    private func answer(_ refusal: RouteRefusal, fields: HTTPFields, canonical: CanonicalRequest, requestID: String) -> Response {
        switch refusal {
        case .anonymousOnPrivateRoute:
            unauthenticated(fields, canonical: canonical, requestID: requestID)
        case .clientCertificateRequired:
            GatewayAnswers.json(.forbidden, ["error": "client_certificate_required", "message": refusal.description], requestID: requestID)
        case .authMethodNotAccepted:
            GatewayAnswers.json(.forbidden, ["error": "auth_method_not_accepted", "message": refusal.description], requestID: requestID)
        }
    }

    /// No credentials on a route that needs them: browsers are sent to the login page on the
    /// same host; everything else gets 401 with the login URL (never a cross-origin redirect).
    private func unauthenticated(_ fields: HTTPFields, canonical: CanonicalRequest, requestID: String,
                                 message: String = "log in or present a bearer token") -> Response {
        var next = canonical.path
        if let query = canonical.query { next += "?" + query }
        let login = "/.portcullis/login?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/")
        if GatewayAnswers.isBrowserNavigation(fields) {
            return Response(status: .found, headers: [.location: login, .cacheControl: "no-store"])
        }
        return GatewayAnswers.json(.unauthorized, ["error": "unauthenticated", "message": message, "login_url": login],
                                   requestID: requestID, headers: [.wwwAuthenticate: #"Bearer realm="portcullis""#])
    }

    /// Client headers minus anything that could carry identity or hop-by-hop meaning, plus the
    /// gateway's own: forwarding facts, request id, and the signed identity assertion.
    private func upstreamHeaders(_ fields: HTTPFields, canonical: CanonicalRequest, route: RouteSettings, principal: Principal,
                                 clientAddress: String, requestID: String) throws -> HTTPFields {
        var headers = IdentityHeaderFilter(keepsUpgrade: route.allowsWebSocket).filtered(fields)
        if principal.method == .token && !route.passesAuthorization { headers[.authorization] = nil }
        headers[GatewayHeaders.forwardedFor] = clientAddress
        headers[GatewayHeaders.forwardedProto] = "https"
        headers[GatewayHeaders.forwardedHost] = canonical.host
        headers[GatewayHeaders.requestID] = requestID
        let now = Date()
        let claims = Claims(issuer: settings.assertionIssuer, subject: principal.name, audience: [route.id], issuedAt: now,
                            expiresAt: now + settings.assertionLifetime, tokenID: requestID,
                            subjectKind: principal.kind == .service ? .service : .user, roles: principal.roles, groups: principal.groups,
                            sessionID: principal.sessionID, authMethods: principal.method.map { [$0.rawValue] } ?? [],
                            httpMethod: canonical.method.rawValue, httpPath: canonical.path,
                            certificateThumbprint: principal.certificate?.thumbprint)
        if principal.kind != .anonymous { headers[GatewayHeaders.assertion] = try signer().jwt(claims) }
        return headers
    }

    /// 128 random bits, hex: unguessable, so ids in URLs and logs reveal nothing.
    static func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64, low = generator.next() as UInt64
        let hex = String(high, radix: 16), tail = String(low, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + String(repeating: "0", count: 16 - tail.count) + tail
    }
}

/// What one request's audit record says, filled in as the request advances.
struct AccessRecord {
    let requestID: String
    let clientAddress: String
    var method = "-"
    var target: String?
    var route: String?
    var principal: String?
    var authMethod: String?
    var outcome = GatewayMetrics.Outcome.error
    var reason: String?
    var policies: [String] = []
    var policyVersion: String?
    /// Policies skipped because evaluating them raised an error, whatever the decision: a
    /// `forbid` that erred on an allowed request is exactly what an auditor must see.
    var policyErrors: [String] = []
    var durationMicros: Int64 = 0

    func event(status: Int) -> AuditEvent {
        AuditEvent(kind: .access, requestID: requestID, principal: principal, authMethod: authMethod, action: method, route: route,
                   target: target, clientAddress: clientAddress, outcome: outcome.label, policies: policies, policyVersion: policyVersion,
                   upstreamStatus: outcome == .allow ? status : nil, durationMicros: durationMicros, details: details)
    }

    /// `{"reason": …, "policy_errors": […]}` with what there is; nil when there is neither.
    private var details: String? {
        guard reason != nil || !policyErrors.isEmpty else { return nil }
        var fields: [String] = []
        if let reason { fields.append(#""reason":"# + Self.jsonString(reason)) }
        if !policyErrors.isEmpty { fields.append(#""policy_errors":["# + policyErrors.map(Self.jsonString).joined(separator: ",") + "]") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    private static func jsonString(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
