import AccessModel
import HTTPSyntax
import HTTPTypes
import Logging

/// A request that passed every check, with the headers to send upstream, or the embedded
/// application that answers it instead of an upstream.
struct Admitted {
    let canonical: CanonicalRequest
    let route: RouteSettings
    let principal: Principal
    let headers: HTTPFields
    var application: (any EmbeddedApplication)? = nil
}

/// Where an admitted request goes: the gateway's sign-in pages (with the session the browser
/// holds on the sign-in host), or on (upstream or embedded).
enum Admission {
    case signIn(SignInPages, CanonicalRequest, current: SignedInPerson?)
    case forward(Admitted)
}

extension GatewayResponder {
    /// Canonicalize, route, authenticate, apply the route's admission rules and decide with
    /// Cedar, in that order; each step passes a value on or throws the ``Refusal`` that answers
    /// the request. Shared by plain requests and WebSocket upgrades, so both pass the same checks.
    /// `record` collects what the audit record says as the request advances.
    func admit(_ head: HTTPRequest, clientAddress: String, tls: TLSFacts, record: inout AccessRecord) throws(Refusal) -> Admission {
        guard recorder.isAcceptingTraffic else { throw .auditUnavailable(retryAfterSeconds: 5) }
        record.method = head.method.rawValue
        guard head.headerFields.count <= settings.limits.maxHeaderCount else { throw .tooManyHeaders(limit: settings.limits.maxHeaderCount) }
        let canonical: CanonicalRequest
        do {
            canonical = try RequestCanonicalizer.canonicalize(head)
        } catch {
            throw .malformed(error)
        }
        record.method = canonical.method.rawValue
        record.target = canonical.path

        let directory = self.directory.current
        // The sign-in host serves the pages and the console, never an upstream; route hosts serve
        // only the reserved pages single sign-on needs, and never forward the reserved prefix.
        let signInHost = signInPages?.host
        let onSignInHost = canonical.host == signInHost?.host
        let mounted = onSignInHost ? embedded.flatMap { $0.matches(canonical.path) ? $0 : nil } : nil
        if mounted == nil, let signInPages, onSignInHost || SignInPages.servedOnRouteHosts(canonical.path) {
            record.route = SignInPages.auditRoute
            return .signIn(
                signInPages, canonical,
                current: onSignInHost ? try signedInPerson(head.headerFields, directory: directory, canonical: canonical) : nil)
        }
        if mounted == nil && canonical.path.hasPrefix(SignInPages.prefix) { throw .noRoute }
        guard let route = mounted?.route ?? routes.table.match(canonical)?.payload else { throw .noRoute }
        record.route = route.id
        record.grpc = GRPCMethod(method: canonical.method.rawValue, path: canonical.path, contentType: head.headerFields[.contentType])

        let principal: Principal
        do {
            principal = try authenticator.authenticate(head.headerFields, certificate: tls.certificate, directory: directory)
        } catch {
            throw .unauthenticated(error, canonical: canonical, signIn: signInHost)
        }
        record.principal = principal.uid.description
        record.authMethod = principal.method?.rawValue ?? AuthMethod.noneLabel
        if let refusal = route.refusal(of: principal, certificate: tls.certificate) {
            throw .route(refusal, canonical: canonical, signIn: signInHost)
        }

        let decision = access.decide(
            principal: principal, route: route, request: canonical, grpc: record.grpc,
            facts: RequestFacts(clientAddress: clientAddress, tlsVersion: tls.version, certificate: tls.certificate),
            hierarchy: directory.hierarchy)
        record.policies = decision.policies
        record.policyVersion = decision.policyVersion
        record.policyErrors = decision.errors
        guard decision.allowed else {
            throw .denied(anonymous: principal.kind == .anonymous, errors: decision.errors, canonical: canonical, signIn: signInHost)
        }
        if case let .contentLength(length) = canonical.bodyFraming, length > route.maxBodyBytes {
            throw .bodyTooLarge(length: length, limit: route.maxBodyBytes)
        }

        let admitted: Admitted
        if let mounted {
            admitted = Admitted(canonical: canonical, route: route, principal: principal, headers: [:], application: mounted.application)
        } else {
            do {
                let headers = try upstreamHeaders(
                    head.headerFields, canonical: canonical, route: route, principal: principal,
                    clientAddress: clientAddress, requestID: record.requestID)
                admitted = Admitted(canonical: canonical, route: route, principal: principal, headers: headers)
            } catch {
                logger.error("cannot sign the identity assertion", metadata: ["request_id": "\(record.requestID)"])
                throw .assertionUnavailable
            }
        }
        record.outcome = .allow
        return .forward(admitted)
    }

    /// The session a browser holds on the sign-in host; nil when it holds none that is valid (a
    /// dead cookie is replaced at the next sign-in). Fails closed when the directory cannot say.
    private func signedInPerson(
        _ fields: HTTPFields, directory: any CredentialSnapshot, canonical: CanonicalRequest
    ) throws(Refusal) -> SignedInPerson? {
        guard !Authenticator.cookies(named: SessionCookies.session, in: fields).isEmpty else { return nil }
        do {
            let principal = try authenticator.authenticate(fields, certificate: nil, directory: directory)
            guard principal.method == .session, let sessionID = principal.sessionID else { return nil }
            return SignedInPerson(login: principal.name, sessionID: sessionID, authenticated: principal)
        } catch  where error.isUnavailable {
            throw .unauthenticated(error, canonical: canonical, signIn: nil)
        } catch {
            return nil
        }
    }
}
