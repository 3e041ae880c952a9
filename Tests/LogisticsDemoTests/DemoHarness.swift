import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing
import Tokens

@testable import LogisticsDemo

/// A key ring as the identity service keeps one (sealed under a master key, rotated by
/// `KeyRing.rotated`), and the gateway's way of signing with it.
struct KeyRingFixture: Sendable {
    let ring: KeyRing
    let signer: TokenSigner

    init() throws {
        let masterKey = try MasterKey.generate()
        ring = try KeyRing().rotated(now: Date(), policy: RotationPolicy()) { state throws(TokenError) in
            try KeyRecord.generate(masterKey: masterKey, now: Date(), state: state)
        }
        signer = try ring.signer(masterKey: masterKey)
    }

    func sign(_ claims: Claims) throws -> String { signer.jwt(claims) }
}

/// The identity service's JWKS endpoint, served over real HTTP from the published rings.
final class JWKSServer: Sendable {
    private let document = Mutex<Data>(Data())
    private let count = Mutex(0)

    var fetches: Int { count.withLock { $0 } }

    func publish(_ rings: [KeyRingFixture]) {
        let keys = rings.flatMap { (try? $0.ring.verificationKeys().byID.values.map { $0 }) ?? [] }
        document.withLock { $0 = VerificationKeys(keys).jwks() }
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.get("/.well-known/jwks.json") { _, _ in
            self.count.withLock { $0 += 1 }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(data: self.document.withLock { $0 })))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }
}

/// One demo service (in-process, Hummingbird's router test mode) whose keys come from a live
/// `JWKSServer`.
struct DemoHarness: Sendable {
    let service: DemoService
    let ring: KeyRingFixture
    let jwks: JWKSServer
    let client: any TestClientProtocol

    struct Reply {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let text: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    }

    static func run(
        _ service: DemoService, keyMaxAge: Duration = .seconds(300), links: [ConsoleLink] = [],
        _ body: @Sendable (DemoHarness) async throws -> Void
    ) async throws {
        let ring = try KeyRingFixture()
        let jwks = JWKSServer()
        jwks.publish([ring])
        try await jwks.application().test(.live) { jwksClient in
            let port = try #require(jwksClient.port)
            let settings = GatewayKeySet.Settings(
                url: URL(string: "http://127.0.0.1:\(port)/.well-known/jwks.json")!,
                unknownKeyRefreshInterval: .zero, maxAge: keyMaxAge)
            let keySet = GatewayKeySet(settings: settings, logger: Logger(label: "test"))
            try await application(service, keySet: keySet, links: links).test(.router) { client in
                try await body(DemoHarness(service: service, ring: ring, jwks: jwks, client: client))
            }
        }
    }

    static func application(_ service: DemoService, keySet: GatewayKeySet, links: [ConsoleLink] = []) -> some ApplicationProtocol {
        let verifier = AssertionVerifier(keySet: keySet, requirements: AssertionRequirements(audience: service.rawValue))
        return DemoServer.application(
            service, verifier: verifier, links: links, startedAt: Date(),
            address: .hostname("127.0.0.1", port: 0), logger: Logger(label: "test"))
    }

    /// Claims as the gateway writes them (`GatewayResponder.upstreamHeaders`).
    static func claims(
        _ method: HTTPRequest.Method?, _ path: String?, audience: String, subject: String = "dana",
        issuer: String = "portcullis-gateway", issuedAgo: TimeInterval = 0, requestID: String = UUID().uuidString
    ) -> Claims {
        let now = Date() - issuedAgo
        return Claims(
            issuer: issuer, subject: subject, audience: [audience], issuedAt: now, expiresAt: now + 60, tokenID: requestID,
            subjectKind: .user, roles: ["dispatcher"], groups: ["rotterdam"], authMethods: ["token"],
            httpMethod: method?.rawValue, httpPath: path)
    }

    func assertion(
        _ method: HTTPRequest.Method?, _ path: String?, audience: String? = nil, subject: String = "dana",
        issuer: String = "portcullis-gateway", issuedAgo: TimeInterval = 0, requestID: String = UUID().uuidString,
        ring: KeyRingFixture? = nil
    ) throws -> String {
        try (ring ?? self.ring).sign(
            Self.claims(
                method, path, audience: audience ?? service.rawValue, subject: subject, issuer: issuer,
                issuedAgo: issuedAgo, requestID: requestID))
    }

    func request(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, headers: HTTPFields = [:], body: String? = nil
    ) async throws -> Reply {
        var fields = headers
        if let token { fields[AssertionMiddleware.header] = token }
        if body != nil { fields[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: method, headers: fields, body: body.map { ByteBuffer(string: $0) }) { response in
            Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }
}
