import Foundation
import Tokens

/// Lifetimes, limits and names of the identity service. Defaults suit production; tests
/// shorten the windows.
public struct IdentitySettings: Sendable {
    /// `iss` of every token.
    public var issuer: String = "portcullis"
    /// `aud` of access tokens: what the gateways accept.
    public var audience: [String] = ["portcullis"]
    /// Access tokens are short so that roles and revocations take effect quickly.
    public var accessTokenLifetime: TimeInterval = 600
    /// Absolute session lifetime: refresh tokens never outlive it.
    public var sessionLifetime: TimeInterval = 12 * 3600
    /// One refresh token's lifetime (each use issues a successor).
    public var refreshTokenLifetime: TimeInterval = 12 * 3600
    /// Default lifetime of a new client secret.
    public var serviceSecretLifetime: TimeInterval = 90 * 86_400
    /// How long a password-verified login may wait for its second factor, and how many codes it may try.
    public var mfaChallengeLifetime: TimeInterval = 300
    public var mfaChallengeAttempts: Int = 5
    public var throttle = LoginThrottle()
    /// How long a subject revocation (disabled account) is kept: at least the longest token lifetime.
    public var revocationLifetime: TimeInterval = 86_400
    /// The Cedar resource of the admin API: `Route::"<adminRoute>"`.
    public var adminRoute: String = "identity-admin"
    /// Peers whose `X-Forwarded-For` is believed (the gateways). Anyone else's is ignored.
    public var trustedProxies: Set<String> = []
    /// Shown in authenticator apps.
    public var totpIssuer: String = "Portcullis"
    /// Argon2id cost of password hashes.
    public var passwordPolicy: PasswordPolicy = .interactive
    /// Largest request body accepted, JSON or form.
    public var maxBodyBytes: Int = 64 * 1024
    /// The Workload API (`/v1/certs/…`): certificate lifetime and which gateway assertions renew.
    public var workload = WorkloadSettings()
    /// With identity providers configured, who may still sign in with a Portcullis password: only
    /// users holding one of these roles (break-glass administrators); nil: everyone with a password.
    public var localSignInRoles: Set<String>?

    public init() {}

    var claimsPolicy: ClaimsPolicy {
        ClaimsPolicy(issuers: [issuer], audiences: audience, maxLifetime: max(accessTokenLifetime, 3600))
    }
}
