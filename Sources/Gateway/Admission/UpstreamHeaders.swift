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
        guard principal.kind != .anonymous else { return headers }
        let signer = try signer()
        let now = Date()
        let perRequest = route.assertionBinding == .perRequest
        func mint() -> String {
            signer.jwt(
                Claims(
                    issuer: settings.assertionIssuer, subject: principal.name, audience: [route.id], issuedAt: now,
                    expiresAt: now + settings.assertionLifetime, tokenID: requestID,
                    subjectKind: principal.kind == .service ? .service : .user, roles: principal.roles, groups: principal.groups,
                    sessionID: principal.sessionID, authMethods: principal.method.map { [$0.rawValue] } ?? [],
                    httpMethod: perRequest ? canonical.method.rawValue : nil, httpPath: perRequest ? canonical.path : nil,
                    certificateThumbprint: principal.certificate?.thumbprint))
        }
        if perRequest {
            headers[GatewayHeaders.assertion] = mint()
        } else {
            let key = SessionAssertions.Key(
                route: route.id, kind: principal.kind, name: principal.name, sessionID: principal.sessionID,
                method: principal.method?.rawValue, roles: principal.roles, groups: principal.groups,
                thumbprint: principal.certificate?.thumbprint, keyID: signer.key.publicKey.keyID)
            headers[GatewayHeaders.assertion] = sessionAssertions.assertion(
                for: key, now: now, lifetime: settings.assertionLifetime, mint: mint)
        }
        return headers
    }
}
