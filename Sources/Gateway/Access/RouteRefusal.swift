import AccessModel

/// Why a route's own settings refuse a caller before any policy is asked. These hold whatever
/// the policies say: a policy with an unscoped principal cannot open a route that its settings
/// close.
enum RouteRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// The route requires a verified client certificate and the connection has none.
    case clientCertificateRequired
    /// No credentials on a route that is not `public: true`.
    case anonymousOnPrivateRoute
    /// The caller authenticated in a way the route's `auth` list does not accept.
    case authMethodNotAccepted(AuthMethod)

    var description: String {
        switch self {
        case .clientCertificateRequired: "this route requires a client certificate from the internal CA"
        case .anonymousOnPrivateRoute: "this route is not public and the request carries no credentials"
        case let .authMethodNotAccepted(method): "this route does not accept \(method.rawValue) authentication"
        }
    }
}

extension RouteSettings {
    /// The route-level requirements, in order: a client certificate when required, credentials
    /// unless the route is public, and an accepted authentication method.
    func refusal(of principal: Principal, certificate: ClientCertificate?) -> RouteRefusal? {
        if requiresClientCertificate && certificate == nil { return .clientCertificateRequired }
        guard let method = principal.method else { return isPublic ? nil : .anonymousOnPrivateRoute }
        return authMethods.contains(method) ? nil : .authMethodNotAccepted(method)
    }
}
