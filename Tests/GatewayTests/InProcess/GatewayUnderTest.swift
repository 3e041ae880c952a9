import AccessModel
import Audit
import Cedar
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization
import Tokens

@testable import Gateway

/// The state of the credential directory, as a test sets it: what the identity service's feed
/// would have delivered.
struct DirectoryState: CredentialSnapshot {
    var isSynchronized = true
    var hierarchy = RoleHierarchy(parents: ["dispatcher": ["staff"], "staff": []], groups: [])
    var revokedTokens: Set<String> = []
    var revokedSessions: Set<String> = []
    var revokedSerials: Set<String> = []
    var workloads: [String: Workload] = [:]
    var accounts: [String: AccountState] = [:]
    var services: [String: AccountState] = [:]

    func isRevoked(_ claims: Claims) -> Bool {
        revokedTokens.contains(claims.tokenID) || claims.sessionID.map(revokedSessions.contains) == true
    }

    func isSessionRevoked(_ sessionID: String) -> Bool { revokedSessions.contains(sessionID) }
    func isCertificateRevoked(serial: String) -> Bool { revokedSerials.contains(serial) }
    func workload(boundTo spiffeID: String) -> Workload? { workloads[spiffeID] }
    func account(_ login: String) -> AccountState? { accounts[login] }
    func service(_ name: String) -> AccountState? { services[name] }
}

final class TestDirectory: CredentialDirectory {
    let state = Mutex(DirectoryState())
    var current: any CredentialSnapshot { state.withLock { $0 } }
}

/// Keeps every event; `accepting` false stands for an audit trail that is full under `fail_closed`.
final class CollectingRecorder: AuditRecorder {
    let events = Mutex<[AuditEvent]>([])
    let accepting = Switch(true)

    func record(_ event: AuditEvent) -> Bool {
        events.withLock { $0.append(event) }
        return true
    }

    var isAcceptingTraffic: Bool { accepting.isOn }
}

/// A condition a test turns on and off while the gateway runs.
final class Switch: Sendable {
    private let state: Atomic<Bool>

    init(_ on: Bool) { state = Atomic(on) }

    var isOn: Bool { state.load(ordering: .relaxed) }

    func set(_ on: Bool) { state.store(on, ordering: .relaxed) }
}

/// An identity service that cannot be reached: the in-process tests admit requests but never
/// complete a sign-in (the end-to-end tests do, against the real identity service).
struct UnreachableIdentity: BrowserSignIn {
    func signIn(login: String, password: String, client: SignInClient) async throws(SignInFailure) -> SignInStep { throw .unavailable }
    func completeSignIn(challenge: String, code: String, client: SignInClient) async throws(SignInFailure) -> SignInStep {
        throw .unavailable
    }
    func completeSignIn(challenge: String, newPassword: String, client: SignInClient) async throws(SignInFailure) -> SignedInSession {
        throw .unavailable
    }
    func issueSignOnCode(sessionID: String, login: String, host: String, client: SignInClient) async throws(SignInFailure) -> String {
        throw .unavailable
    }
    func redeemSignOnCode(_ code: String, host: String, client: SignInClient) async throws(SignInFailure) -> SignedInSession {
        throw .unavailable
    }
    func endSession(id: String, client: SignInClient) async {}
    func sessionsSeen(_ ids: [String]) async {}
}

/// A gateway assembled in-process from its real parts (canonicalizer, route table, PASETO
/// verification, Cedar, assertion signing), with the identity service's feed replaced by the
/// state the test sets. Requests are admitted directly: no sockets, no child processes.
final class GatewayUnderTest {
    static let policies = """
        permit (principal in Role::"staff", action in Action::"read", resource == Route::"shipments");
        permit (principal, action, resource == Route::"status");
        permit (principal == Service::"billing", action, resource == Route::"ledger");
        forbid (principal, action, resource == Route::"shipments") when { context.http.path like "/internal*" };
        """

    let signingKey: Ed25519SecretKey
    let cookies: SessionCookieCodec
    let directory = TestDirectory()
    let recorder = CollectingRecorder()
    let policiesInForce: PolicyHolder
    let policiesSynchronized = Switch(true)
    let settings: GatewaySettings
    let responder: GatewayResponder

    init(routes extra: [RouteSettings] = []) throws {
        signingKey = try Ed25519SecretKey.generate()
        let cookieKey = try PasetoLocalKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
        var settings = GatewaySettings()
        settings.limits.maxHeaderCount = 20
        settings.signInHost = try SignInHost(host: "auth.test")
        self.settings = settings
        cookies = SessionCookieCodec(
            current: cookieKey,
            policy: ClaimsPolicy(
                issuers: [settings.assertionIssuer],
                audiences: [settings.assertionIssuer], clockSkew: 0))
        let set = try PolicySet.parse(Self.policies).get()
        policiesInForce = PolicyHolder(PolicySnapshot(authorizer: Authorizer(set), version: "test-version"))
        let upstream = URL(string: "http://127.0.0.1:9")!
        var shipments = RouteSettings(id: "shipments", hosts: ["shipments.test"], pathPrefix: "/", upstream: upstream, maxBodyBytes: 1000)
        shipments.labels = ["team": "dispatch"]
        let routes =
            [
                shipments,
                RouteSettings(id: "status", hosts: ["status.test"], pathPrefix: "/", upstream: upstream, isPublic: true),
                RouteSettings(
                    id: "ledger", hosts: ["ledger.test"], pathPrefix: "/", upstream: upstream, authMethods: [.mtls],
                    requiresClientCertificate: true),
            ] + extra
        let publicKey = signingKey.publicKey
        let synchronized = policiesSynchronized
        let signer = TokenSigner(key: signingKey)
        responder = GatewayResponder(
            settings: settings, routes: RouteHolder(try RouteSettings.table(routes)),
            authenticator: Authenticator(
                verificationKeys: { VerificationKeys([publicKey]) },
                claimsPolicy: ClaimsPolicy(issuers: settings.tokenIssuers, audiences: settings.tokenAudiences),
                sessions: cookies, policiesSynchronized: { synchronized.isOn }),
            directory: directory, access: AccessControl(policies: policiesInForce),
            forwarder: UpstreamForwarder(client: try UpstreamClient()), signer: { signer }, recorder: recorder,
            signInPages: SignInPages(identity: UnreachableIdentity(), sessions: cookies, settings: settings, host: settings.signInHost!),
            logger: Logger(label: "gateway-under-test"))
    }

    /// An access token as the identity service issues it.
    func token(
        _ subject: String = "dana", roles: [String] = ["dispatcher"], kind: SubjectKind = .user, tokenID: String = Claims.newTokenID(),
        issuer: String = "portcullis", audience: String = "portcullis", expiresIn: TimeInterval = 300
    ) -> String {
        let now = Date()
        return TokenSigner(key: signingKey).paseto(
            Claims(
                issuer: issuer, subject: subject, audience: [audience], issuedAt: now,
                expiresAt: now + expiresIn, tokenID: tokenID, subjectKind: kind, roles: roles))
    }

    /// A sealed browser session cookie value.
    func sessionCookie(_ login: String = "dana", sessionID: String = "s-1", roles: [String] = ["dispatcher"]) throws -> String {
        let now = Date()
        return try cookies.seal(
            Claims(
                issuer: settings.assertionIssuer, subject: login, audience: [settings.assertionIssuer], issuedAt: now,
                expiresAt: now + 600, tokenID: Claims.newTokenID(), subjectKind: .user, roles: roles,
                sessionID: sessionID, sessionExpiresAt: now + 3600))
    }

    /// What `admit` concluded: the admission, or the refusal with the answer the client gets.
    struct Outcome {
        let admission: Admission?
        let refusal: Refusal?
        let response: Response?
        let record: AccessRecord

        var status: Int? { response.map { Int($0.status.code) } }
        var admitted: Admitted? {
            if case let .forward(admitted) = admission { return admitted }
            return nil
        }
    }

    func admit(
        _ target: String, host: String, method: HTTPRequest.Method = .get, headers: [(HTTPField.Name, String)] = [],
        certificate: ClientCertificate? = nil
    ) -> Outcome {
        var fields = HTTPFields()
        for (name, value) in headers { fields.append(HTTPField(name: name, value: value)) }
        let head = HTTPRequest(method: method, scheme: "https", authority: host, path: target, headerFields: fields)
        var record = AccessRecord(requestID: "r-test", clientAddress: "192.0.2.10")
        do {
            let admission = try responder.admit(
                head, clientAddress: "192.0.2.10",
                tls: TLSFacts(certificate: certificate, version: "TLSv1.3", http2: false), record: &record)
            return Outcome(admission: admission, refusal: nil, response: nil, record: record)
        } catch {
            let response = error.answer(recording: &record, fields: fields)
            return Outcome(admission: nil, refusal: error, response: response, record: record)
        }
    }
}
