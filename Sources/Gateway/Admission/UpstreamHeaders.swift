import Foundation
import HTTPSyntax
import HTTPTypes
import Tokens

extension GatewayResponder {
    /// Client headers minus anything that could carry identity or hop-by-hop meaning, plus the
    /// gateway's own: forwarding facts, request id, and the signed identity assertion.
    func upstreamHeaders(
        _ fields: HTTPFields, canonical: CanonicalRequest, route: RouteSettings, principal: Principal,
        clientAddress: String, requestID: String
    ) throws -> HTTPFields {
        var headers = IdentityHeaderFilter(keepsUpgrade: route.allowsWebSocket).filtered(fields)
        if principal.method == .token && !route.passesAuthorization { headers[.authorization] = nil }
        headers[GatewayHeaders.forwardedFor] = clientAddress
        headers[GatewayHeaders.forwardedProto] = "https"
        headers[GatewayHeaders.forwardedHost] = canonical.host
        headers[GatewayHeaders.requestID] = requestID
        let now = Date()
        let claims = Claims(
            issuer: settings.assertionIssuer, subject: principal.name, audience: [route.id], issuedAt: now,
            expiresAt: now + settings.assertionLifetime, tokenID: requestID,
            subjectKind: principal.kind == .service ? .service : .user, roles: principal.roles, groups: principal.groups,
            sessionID: principal.sessionID, authMethods: principal.method.map { [$0.rawValue] } ?? [],
            httpMethod: canonical.method.rawValue, httpPath: canonical.path,
            certificateThumbprint: principal.certificate?.thumbprint)
        if principal.kind != .anonymous { headers[GatewayHeaders.assertion] = try signer().jwt(claims) }
        return headers
    }
}
