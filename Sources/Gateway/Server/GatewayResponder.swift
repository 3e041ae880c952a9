import Audit
import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Tokens

/// Every request's path through the gateway: admit it (``admit(_:clientAddress:tls:record:)``:
/// canonicalize once, route, authenticate, authorize with Cedar), forward it with a signed
/// identity assertion, and record the outcome. Each step fails closed, and the canonical request
/// computed first is the one routed, decided, forwarded and audited.
public struct GatewayResponder: Sendable {
    let settings: GatewaySettings
    let routes: RouteHolder
    let authenticator: Authenticator
    /// Revocations, workload bindings and the role hierarchy, read once per request.
    let directory: any CredentialDirectory
    let access: AccessControl
    let forwarder: UpstreamForwarder
    let signer: @Sendable () throws -> TokenSigner
    let recorder: any AuditRecorder
    /// Sign-in, single sign-on and sign-out; nil without a sign-in host.
    let signInPages: SignInPages?
    /// The admin console, served on the sign-in host when this process serves it.
    let embedded: EmbeddedMount?
    /// Sessions that carried requests, for their "last seen".
    let activity: SessionActivity
    let metrics: GatewayMetrics
    /// TLS facts of the open client connections, registered by the listener.
    let connections: ConnectionFacts
    /// Assertions of `per_session` routes in reuse.
    let sessionAssertions = SessionAssertions()
    let logger: Logger

    public init(
        settings: GatewaySettings, routes: RouteHolder, authenticator: Authenticator, directory: any CredentialDirectory,
        access: AccessControl, forwarder: UpstreamForwarder, signer: @escaping @Sendable () throws -> TokenSigner,
        recorder: any AuditRecorder, signInPages: SignInPages?, embedded: EmbeddedMount? = nil,
        activity: SessionActivity = SessionActivity(), metrics: GatewayMetrics = GatewayMetrics(),
        connections: ConnectionFacts = ConnectionFacts(), logger: Logger
    ) {
        self.settings = settings
        self.routes = routes
        self.authenticator = authenticator
        self.directory = directory
        self.access = access
        self.forwarder = forwarder
        self.signer = signer
        self.recorder = recorder
        self.signInPages = signInPages
        self.embedded = embedded
        self.activity = activity
        self.metrics = metrics
        self.connections = connections
        self.logger = logger
    }

    public func respond(to request: Request, context: GatewayRequestContext) async -> Response {
        // From another web origin to a route that lists origins: the gateway answers its
        // preflight and sets the CORS fields of whatever answers the call.
        guard let (crossOrigin, route, path) = crossOrigin(request.head) else { return await call(request, context: context) }
        if CrossOrigin.isPreflight(request.head) {
            return await answerPreflight(request, crossOrigin, route: route, path: path, context: context)
        }
        return crossOrigin.marked(await call(request, context: context))
    }

    private func call(_ request: Request, context: GatewayRequestContext) async -> Response {
        // A gRPC-Web call is decided, forwarded and watched as the gRPC call it carries (or, to a
        // gRPC-Web upstream, passed as sent); the gateway's own answers reach it in its form.
        guard let web = GRPCWeb(request.headers) else { return await answer(request, context: context) }
        let call = GRPCWeb.translates(request.head, routes: routes.table) ? web.call(request) : request
        return web.answer(await answer(call, context: context))
    }

    private func answer(_ request: Request, context: GatewayRequestContext) async -> Response {
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
        do throws(Refusal) {
            switch try admit(request.head, clientAddress: context.clientAddress, tls: tls, record: &record) {
            case let .signIn(pages, canonical, current):
                watchBody(canonical, .standard)
                let facts = RequestFacts(clientAddress: context.clientAddress, tlsVersion: tls.version, certificate: tls.certificate)
                let (access, hierarchy) = (self.access, directory.current.hierarchy)
                response = await pages.respond(
                    request, canonical: canonical, current: current, routes: routes.table, clientAddress: context.clientAddress,
                    decide: { principal, client, labels in
                        access.decideSignIn(
                            principal: principal, client: client, labels: labels, request: canonical, facts: facts, hierarchy: hierarchy)
                    }, record: &record)
            case let .forward(admitted):
                watchBody(admitted.canonical, admitted.route.bodyPace)
                if let sessionID = admitted.principal.sessionID { activity.saw(sessionID) }
                if let application = admitted.application {
                    let caller = EmbeddedCaller(
                        principal: admitted.principal, requestID: record.requestID, policies: record.policies,
                        policyVersion: record.policyVersion, clientAddress: context.clientAddress,
                        host: admitted.canonical.host, path: admitted.canonical.path)
                    response = Self.stamped(
                        await application.respond(to: request, caller: caller), requestID: record.requestID,
                        principal: admitted.principal)
                } else {
                    response = try await forward(
                        request, admitted, eventLoop: context.channel.eventLoop, clientChannel: context.channel,
                        clientAddress: context.clientAddress, tls: tls, record: &record)
                }
            }
        } catch {
            response = error.answer(recording: &record, fields: request.headers)
        }
        if let violation = watch?.violation {
            record.outcome = .error
            record.reason = violation.description
        }
        guard await finish(&record, status: Int(response.status.code), started: started) else {
            // Not recorded, and the overflow policy forbids answering unrecorded requests: the
            // upstream's answer is dropped (its connection is abandoned) rather than delivered.
            return Refusal.auditUnavailable(retryAfterSeconds: 1).response(fields: request.headers, requestID: record.requestID)
        }
        return response
    }

    /// Stamps the duration, counts the outcome (unless `countsAsRequest` is false: the closing
    /// of a stream is not a request) and hands the record to the audit trail; false when the
    /// answer must not go out because its event could not be recorded.
    func finish(_ record: inout AccessRecord, status: Int, started: ContinuousClock.Instant, countsAsRequest: Bool = true) async -> Bool {
        let elapsed = ContinuousClock.now - started
        record.durationMicros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        if countsAsRequest { metrics.record(route: record.route, outcome: record.outcome, duration: elapsed) }
        return await recorder.recordBeforeAnswering(record.event(status: status))
    }

    /// New upstream connections are opened on `eventLoop`, the client connection's; the request
    /// trailers `clientChannel` (its connection or HTTP/2 stream) received are passed on; `tls` says
    /// how the client connection speaks. Upgrades the route allows were taken over by the
    /// WebSocket channel before reaching here; any other (an HTTP/1.1 `Upgrade` on a later
    /// request of a connection) is refused. An upstream's `Set-Cookie` for one of the gateway's
    /// own cookies is removed, and the record says so. A response that keeps streaming is
    /// watched (``StreamWatch``) until it ends.
    func forward(
        _ request: Request, _ admitted: Admitted, eventLoop: any EventLoop, clientChannel: (any Channel)?, clientAddress: String,
        tls: TLSFacts, record: inout AccessRecord
    ) async throws(Refusal) -> Response {
        guard request.headers[.upgrade] == nil else { throw .upgradeNotAllowed }
        let callTimeout = record.grpc == nil ? nil : request.headers[GRPCTimeout.header].flatMap(GRPCTimeout.parse)
        let origin = StreamOrigin(
            recheck: AccessRecheck(responder: self, head: request.head, clientAddress: clientAddress, tls: tls), opening: record,
            lifetime: admitted.route.maxStreamLifetime, callTimeout: callTimeout)
        do {
            let forwarded = try await forwarder.forward(
                request, canonical: admitted.canonical, route: admitted.route, headers: admitted.headers,
                eventLoop: eventLoop, toHTTP2Client: tls.http2, origin: origin, clientChannel: clientChannel)
            var response = forwarded.response
            if let grpc = record.grpc, let status = forwarded.grpcStatus {
                record.grpcStatus = status
                metrics.recordGRPCCall(route: admitted.route.id, method: grpc, status: status)
            }
            let planted = GatewayCookies.removeSetCookies(from: &response.headers)
            if !planted.isEmpty {
                record.reason = "the upstream's Set-Cookie for \(planted.joined(separator: ", ")) was removed"
                logger.warning(
                    "upstream tried to set the gateway's cookie",
                    metadata: ["request_id": "\(record.requestID)", "route": "\(admitted.route.id)", "cookies": "\(planted)"])
            }
            return Self.stamped(response, requestID: record.requestID, principal: admitted.principal)
        } catch {
            // Admitted and forwarded: the outcome stays `allow`, the record says why no answer came.
            record.reason = "upstream: \(error)"
            metrics.recordUpstreamFailure(route: admitted.route.id, error.counted)
            guard let grpc = record.grpc else { return error.response(requestID: record.requestID) }
            // The call's own deadline, shorter than the route's, passed: DEADLINE_EXCEEDED.
            let code = error.isTimeout && callTimeout.map { $0 < admitted.route.timeout } == true ? 4 : error.grpcCode
            record.grpcStatus = code
            metrics.recordGRPCCall(route: admitted.route.id, method: grpc, status: code)
            return GRPCRefusal.response(code: code, message: error.message, requestID: record.requestID, headers: [:])
        }
    }

    /// Adds the request id and, when the session's idle window was renewed, the new cookie.
    static func stamped(_ response: Response, requestID: String, principal: Principal) -> Response {
        var response = response
        response.headers[GatewayHeaders.requestID] = requestID
        if let renewed = principal.renewedSessionCookie {
            response.headers.append(
                HTTPField(
                    name: .setCookie,
                    value: SessionCookies.header(SessionCookies.session, renewed.value, maxAge: renewed.maxAge, sameSite: "Lax")))
        }
        return response
    }

    /// 128 random bits, hex: unguessable, so ids in URLs and logs reveal nothing.
    static func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        let hex = String(high, radix: 16)
        let tail = String(low, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex + String(repeating: "0", count: 16 - tail.count) + tail
    }
}
