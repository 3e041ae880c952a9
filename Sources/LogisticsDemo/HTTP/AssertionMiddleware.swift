import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Tokens

/// The caller as the gateway asserted it: what handlers use instead of anything the network says.
public struct Caller: Sendable, Encodable, Equatable {
    /// `sub`: the user's login or the service account's name.
    public var subject: String
    /// `user` or `service`.
    public var kind: String
    public var roles: [String]
    public var groups: [String]
    /// How the caller authenticated at the gateway (`token`, `session`, `mtls`).
    public var authMethods: [String]
    /// The gateway's request id (the assertion's `jti`), also in its audit record.
    public var requestID: String

    init(_ claims: Claims) {
        subject = claims.subject
        kind = claims.subjectKind.rawValue
        roles = claims.roles
        groups = claims.groups
        authMethods = claims.authMethods
        requestID = claims.tokenID
    }

    enum CodingKeys: String, CodingKey {
        case subject = "sub"
        case kind, roles, groups
        case authMethods = "amr"
        case requestID = "request_id"
    }
}

/// Request context of the demo upstreams: Hummingbird's storage plus the verified caller.
public struct DemoRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AssertionMiddleware` before any handler runs.
    public var caller: Caller?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// The verified caller (every route sits behind `AssertionMiddleware`).
    func requireCaller() throws(APIError) -> Caller {
        guard let caller else { throw .internalError("no verified caller on the request context") }
        return caller
    }
}

/// Refuses every request without a valid gateway assertion, before routing (unknown paths
/// included), and records the verified caller for the handlers.
struct AssertionMiddleware: RouterMiddleware {
    typealias Context = DemoRequestContext
    static let header = HTTPField.Name(AssertionHeader.name)!

    let verifier: AssertionVerifier
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let claims: Claims
        do {
            claims = try await verifier.verify(
                headerValues: request.headers[values: Self.header], method: request.method.rawValue,
                path: request.uri.path)
        } catch {
            logger.notice(
                "request refused",
                metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path)",
                    "reason": "\(error.code)",
                ])
            throw APIError.rejected(error)
        }
        var context = context
        context.caller = Caller(claims)
        return try await next(request, context)
    }
}
