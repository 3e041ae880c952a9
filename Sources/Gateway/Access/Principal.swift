import AccessModel
import Cedar
import Foundation

/// Who sent a request, as established by the authentication chain. Exactly one per request.
public struct Principal: Sendable {
    public enum Kind: String, Sendable {
        case user, service, anonymous
    }

    public let kind: Kind
    /// Login, service account name, or `anonymous`.
    public let name: String
    /// How it was authenticated; nil for anonymous callers.
    public let method: AuthMethod?
    public let roles: [String]
    public let groups: [String]
    public let mfa: Bool
    public let authenticatedAt: Date?
    public let sessionID: String?
    /// The identity provider the session was opened with (`context.auth.provider`).
    public var identityProvider: String? = nil
    /// The client certificate that authenticated this principal: the connection's, when it
    /// authenticated by mTLS or with a token bound to that certificate (RFC 8705); nil otherwise,
    /// even when the connection carries some other certificate. `context.cert` and the service's
    /// `spiffe_id` describe this certificate only.
    public let certificate: ClientCertificate?
    /// A re-sealed session cookie to send back, when the one presented is past half its idle
    /// lifetime (sliding renewal); nil otherwise.
    public internal(set) var renewedSessionCookie: RenewedSessionCookie?

    public static let anonymous = Principal(
        kind: .anonymous, name: "anonymous", method: nil, roles: [], groups: [], mfa: false,
        authenticatedAt: nil, sessionID: nil, certificate: nil)

    /// `User::"alice"`, `Service::"billing"` or `Anonymous::"anonymous"`.
    public var uid: EntityUID {
        switch kind {
        case .user: EntityUID("User", name)
        case .service: EntityUID("Service", name)
        case .anonymous: EntityUID("Anonymous", "anonymous")
        }
    }

    /// The Cedar entity: attributes and parents (roles, then groups) as `docs/policy-model.md` describes.
    var entity: Entity {
        switch kind {
        case .user: PrincipalEntity.user(login: name, roles: roles, groups: groups)
        case .service: PrincipalEntity.service(name: name, spiffeID: certificate?.spiffeID, roles: roles)
        case .anonymous: PrincipalEntity.anonymous
        }
    }
}

/// A session cookie value with a fresh idle window, and its `Max-Age` in seconds.
public struct RenewedSessionCookie: Sendable, Equatable {
    public let value: String
    public let maxAge: Int
}
