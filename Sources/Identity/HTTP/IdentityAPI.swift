import AccessModel
import Foundation
import Hummingbird
import NIOCore
import PKI
import PolicyStore
import Tokens

/// The identity service's HTTP API: login, MFA, the OAuth 2.0 token endpoint, published keys,
/// and (through `AdminAPI`) administration.
public struct IdentityAPI: Sendable {
    let service: IdentityService
    let admin: AdminAPI
    let workload: WorkloadAPI

    /// The OAuth 2.0 token endpoint (RFC 6749 §3.2).
    static let tokenPath = "/oauth2/token"

    /// `workload` is nil when no CA is configured; `/v1/certs/…` then answers 503 `not_configured`.
    /// `policyVersions` is the policy store behind `/v1/admin/policies`, and `workbench`
    /// previews policy sets there (check, explain, diff).
    public init(
        service: IdentityService, policies: @escaping @Sendable () -> PolicySnapshot?, policyVersions: PolicyVersions,
        workbench: any PolicyWorkbench, workload: WorkloadCertificates? = nil
    ) {
        self.service = service
        self.admin = AdminAPI(service: service, policies: policies, policyVersions: policyVersions, workbench: workbench)
        self.workload = WorkloadAPI(workload: workload, settings: service.settings)
    }

    public func router() -> Router<IdentityRequestContext> {
        let router = Router(context: IdentityRequestContext.self)
        router.post("/v1/login") { request, context in await handle { try await login(request, context) } }
        router.post("/v1/login/mfa") { request, context in await handle { try await loginSecondFactor(request, context) } }
        router.post("/v1/login/password") { request, context in await handle { try await loginNewPassword(request, context) } }
        router.post("/v1/logout") { request, context in await handle { try await logout(request, context) } }
        router.post("/v1/mfa/totp") { request, context in await handle { try await beginEnrolment(request, context) } }
        router.post("/v1/mfa/totp/confirm") { request, context in await handle { try await confirmEnrolment(request, context) } }
        router.post(RouterPath(Self.tokenPath)) { request, context in await token(request, context) }
        router.post("/oauth2/revoke") { request, context in await revoke(request, context) }
        router.get("/.well-known/jwks.json") { request, _ in
            publishedKeys(request, document: service.keys.verificationKeys.jwks(), contentType: "application/jwk-set+json")
        }
        router.get("/.well-known/paserk.json") { request, _ in
            publishedKeys(request, document: service.keys.verificationKeys.paserkDocument(), contentType: "application/json")
        }
        admin.register(on: router)
        workload.register(on: router)
        return router
    }

    // MARK: Login

    private struct SessionBody: Encodable {
        var access_token: String
        var token_type = "Bearer"
        var expires_in: Int
        var refresh_token: String
        var session_id: String
        var session_expires_at: Date
    }

    private func sessionResponse(_ issued: IssuedSession) -> Response {
        JSONResponse.make(
            .ok,
            SessionBody(
                access_token: issued.accessToken, expires_in: Int(issued.accessTokenLifetime), refresh_token: issued.refreshToken,
                session_id: issued.session.id.uuidString.lowercased(), session_expires_at: issued.session.expiresAt))
    }

    private func login(_ request: Request, _ context: IdentityRequestContext) async throws(IdentityError) -> Response {
        var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
        let login = body.requiredString("login")
        let password = body.requiredString("password")
        let factor = Self.secondFactor(&body)
        try body.finish()
        return loginResponse(
            try await service.login(
                login: login, password: password, secondFactor: factor,
                client: context.clientInfo(request, settings: service.settings)))
    }

    /// A session, or 401 with the challenge of the step still missing.
    private func loginResponse(_ result: LoginResult) -> Response {
        struct Challenge: Encodable {
            var error: String
            var message: String
            var challenge: String
            var expires_in: Int
        }
        switch result {
        case let .authenticated(issued):
            return sessionResponse(issued)
        case let .secondFactorRequired(challenge, expiresIn):
            return JSONResponse.make(
                .unauthorized,
                Challenge(
                    error: "mfa_required", message: "a second factor is required: POST /v1/login/mfa with this challenge and a code",
                    challenge: challenge, expires_in: Int(expiresIn)))
        case let .passwordChangeRequired(challenge, expiresIn):
            return JSONResponse.make(
                .unauthorized,
                Challenge(
                    error: "password_change_required",
                    message: "this was a one-time password: POST /v1/login/password with this challenge and a new_password",
                    challenge: challenge, expires_in: Int(expiresIn)))
        }
    }

    private func loginSecondFactor(_ request: Request, _ context: IdentityRequestContext) async throws(IdentityError) -> Response {
        var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
        let challenge = body.requiredString("challenge")
        let factor = Self.secondFactor(&body)
        try body.finish()
        guard let factor else { throw .invalid("totp", "give a 'totp' or a 'recovery_code'") }
        return loginResponse(
            try await service.completeLogin(
                challenge: challenge, factor,
                client: context.clientInfo(request, settings: service.settings)))
    }

    /// The new password that replaces a one-time password, finishing the sign-in.
    private func loginNewPassword(_ request: Request, _ context: IdentityRequestContext) async throws(IdentityError) -> Response {
        var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
        let challenge = body.requiredString("challenge")
        let password = body.requiredString("new_password")
        try body.finish()
        return sessionResponse(
            try await service.completeLogin(
                challenge: challenge, newPassword: password, client: context.clientInfo(request, settings: service.settings)))
    }

    private static func secondFactor(_ body: inout JSONBody) -> SecondFactor? {
        if let code = body.string("totp") { return .totp(code) }
        if let code = body.string("recovery_code") { return .recoveryCode(code) }
        return nil
    }

    /// Ends the session named by a refresh token in the body, or by the bearer access token.
    private func logout(_ request: Request, _ context: IdentityRequestContext) async throws(IdentityError) -> Response {
        let client = context.clientInfo(request, settings: service.settings)
        if Self.bearer(request) != nil {
            let (claims, _, _) = try await service.authenticate(request)
            if let id = claims.sessionID.flatMap(UUID.init(uuidString:)) { _ = try await service.endSession(id, reason: "logout") }
        } else {
            var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
            let refreshToken = body.requiredString("refresh_token")
            try body.finish()
            try await service.logout(refreshToken: refreshToken, client: client)
        }
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    // MARK: MFA enrolment

    private func enrollee(_ request: Request) async throws(IdentityError) -> User {
        guard let user = try await service.authenticate(request).user else {
            throw .forbidden("only people enrol a second factor")
        }
        return user
    }

    private func beginEnrolment(_ request: Request, _ context: IdentityRequestContext) async throws(IdentityError) -> Response {
        let user = try await enrollee(request)
        let (secret, uri) = try await service.beginTOTPEnrolment(user: user)
        return JSONResponse.make(.ok, ["secret": secret, "otpauth_uri": uri])
    }

    private func confirmEnrolment(_ request: Request, _ context: IdentityRequestContext) async throws(IdentityError) -> Response {
        let user = try await enrollee(request)
        var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
        let code = body.requiredString("code")
        try body.finish()
        return JSONResponse.make(.ok, ["recovery_codes": try await service.confirmTOTPEnrolment(user: user, code: code)])
    }

    // MARK: OAuth 2.0 (RFC 6749 token endpoint, RFC 7009 revocation)

    private func token(_ request: Request, _ context: IdentityRequestContext) async -> Response {
        let form: FormBody
        do { form = try await FormBody.read(request, context: context, limit: service.settings.maxBodyBytes) } catch {
            return JSONResponse.oauthError("invalid_request", error.description)
        }
        let client = context.clientInfo(request, settings: service.settings)
        do {
            switch form["grant_type"] {
            case "client_credentials":
                let basic = Self.basicCredentials(request)
                if basic != nil, form["client_secret"] != nil {
                    return JSONResponse.oauthError("invalid_request", "use one client authentication method, not two")
                }
                guard let (id, secret) = basic ?? form["client_id"].flatMap({ id in form["client_secret"].map { (id, $0) } }) else {
                    return JSONResponse.oauthError(
                        "invalid_client", "client authentication is required", status: .unauthorized,
                        headers: [.wwwAuthenticate: #"Basic realm="portcullis""#])
                }
                let certificate: (service: String, digest: CertificateDigest)?
                do { certificate = try presentedCertificate(request) } catch {
                    return JSONResponse.oauthError("invalid_request", "the gateway assertion is not acceptable: \(error)")
                }
                return tokenResponse(try await service.clientCredentials(clientID: id, secret: secret, boundTo: certificate, client: client))
            case "refresh_token":
                guard let refreshToken = form["refresh_token"] else {
                    return JSONResponse.oauthError("invalid_request", "refresh_token is required")
                }
                return tokenResponse(try await service.refresh(refreshToken, client: client))
            case nil:
                return JSONResponse.oauthError("invalid_request", "grant_type is required")
            case let other?:
                return JSONResponse.oauthError("unsupported_grant_type", "grant_type '\(other.prefix(40))' is not supported")
            }
        } catch .invalidCredentials {
            if form["grant_type"] == "refresh_token" {
                return JSONResponse.oauthError("invalid_grant", "the refresh token is invalid, expired, revoked or was already used")
            }
            return JSONResponse.oauthError(
                "invalid_client", "client authentication failed", status: .unauthorized,
                headers: [.wwwAuthenticate: #"Basic realm="portcullis""#])
        } catch {
            return JSONResponse.error(error)
        }
    }

    /// The gateway's assertion for a service whose client certificate authenticated it (mTLS, or a
    /// token bound to that certificate): a token it obtains is bound to the same certificate
    /// (RFC 8705). Nil without an assertion (a direct call) or for a caller the gateway
    /// authenticated without a certificate.
    private func presentedCertificate(_ request: Request) throws(GatewayAssertion.Refusal) -> (service: String, digest: CertificateDigest)? {
        guard let header = request.headers[WorkloadAPI.assertionHeader] else { return nil }
        let assertion = try GatewayAssertion(
            header, method: "POST", path: Self.tokenPath, keys: service.keys.verificationKeys,
            settings: service.settings.workload, now: Date())
        guard assertion.isService, let certificate = assertion.certificate else { return nil }
        return (assertion.subject, certificate)
    }

    private func tokenResponse(_ issued: IssuedToken) -> Response {
        struct TokenBody: Encodable {
            var access_token: String
            var token_type = "Bearer"
            var expires_in: Int
            var refresh_token: String?
        }
        return JSONResponse.make(
            .ok,
            TokenBody(
                access_token: issued.accessToken, expires_in: Int(issued.lifetime),
                refresh_token: issued.refreshToken), headers: [HTTPFields.pragma: "no-cache"])
    }

    /// RFC 7009: answers 200 whether or not the token was known, so it cannot be used to probe tokens.
    private func revoke(_ request: Request, _ context: IdentityRequestContext) async -> Response {
        do {
            let form = try await FormBody.read(request, context: context, limit: service.settings.maxBodyBytes)
            guard let token = form["token"] else { return JSONResponse.oauthError("invalid_request", "token is required") }
            if token.hasPrefix("pcr_") {
                try await service.logout(refreshToken: token, client: context.clientInfo(request, settings: service.settings))
            } else if let claims = try? PasetoPublicVerifier(keys: service.keys.verificationKeys, policy: service.settings.claimsPolicy)
                .verify(token, now: Date())
            {
                try await service.store.revokeToken(id: claims.tokenID, expiresAt: claims.expiresAt)
            }
            return Response(status: .ok, headers: [.cacheControl: "no-store"])
        } catch {
            return JSONResponse.oauthError("invalid_request", error.description)
        }
    }

    // MARK: Keys

    /// Public keys with a strong ETag and a short max-age: verifiers cache them, and a rotation
    /// is published a day before use, so five minutes of staleness is harmless.
    private func publishedKeys(_ request: Request, document: Data, contentType: String) -> Response {
        let etag = "\"" + Base64URL.encode(Digest.blake2b256([Array(document)]).prefix(16)) + "\""
        var headers: HTTPFields = [.cacheControl: "public, max-age=300", .eTag: etag, .contentType: contentType]
        if request.headers[values: .ifNoneMatch].contains(where: {
            $0.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == etag }
        }) {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: document)))
    }

    // MARK: Helpers

    static func bearer(_ request: Request) -> String? {
        guard let value = request.headers[.authorization], value.count > 7, value.prefix(7).lowercased() == "bearer " else { return nil }
        return String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }

    /// RFC 6749 §2.3.1: client id and secret in HTTP Basic, each form-urlencoded.
    static func basicCredentials(_ request: Request) -> (String, String)? {
        guard let value = request.headers[.authorization], value.count > 6, value.prefix(6).lowercased() == "basic ",
            let decoded = Data(base64Encoded: String(value.dropFirst(6))).flatMap({ String(data: $0, encoding: .utf8) }),
            let colon = decoded.firstIndex(of: ":"),
            let id = String(decoded[..<colon]).removingPercentEncoding,
            let secret = String(decoded[decoded.index(after: colon)...]).removingPercentEncoding
        else { return nil }
        return (id, secret)
    }
}

/// Runs a handler body, turning every failure into the API's JSON error shape.
func handle(_ body: () async throws -> Response) async -> Response {
    do { return try await body() } catch { return JSONResponse.error(IdentityError.from(error)) }
}
