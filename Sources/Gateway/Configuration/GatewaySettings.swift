import Foundation

/// The gateway's listener and session settings (routes are separate: they reload on their own).
public struct GatewaySettings: Sendable {
    public var host: String = "0.0.0.0"
    public var port: Int = 8443
    /// PEM chain (leaf first) and key of the gateway's server certificate; reloaded on change.
    public var certificateFile: String = "certs/gateway.crt"
    public var keyFile: String = "certs/gateway.key"
    /// PEM bundle of the CAs whose client certificates are accepted (the internal CA). Without it
    /// no client certificate is requested and mTLS routes refuse every request.
    public var clientCAFile: String?
    /// A plain-HTTP listener that only redirects to HTTPS (`host:port`); nil: none.
    public var redirectListen: (host: String, port: Int)?
    /// Connection-level limits, the defence against slow and flooding clients.
    public var limits = ConnectionLimits()
    /// Issuer and audience the gateway accepts on access tokens.
    public var tokenIssuers: [String] = ["portcullis"]
    public var tokenAudiences: [String] = ["portcullis"]
    /// A browser session ends after this long without a request (the absolute limit is the identity session's).
    public var sessionIdleTimeout: TimeInterval = 1800
    /// Lifetime of the `X-Portcullis-Assertion` JWT given to upstreams.
    public var assertionLifetime: TimeInterval = 60
    /// Issuer written into assertions (upstreams check it).
    public var assertionIssuer: String = "portcullis-gateway"
    /// The host of sign-in, single sign-on, sign-out and the admin console; nil: the gateway
    /// serves none of them (tokens and client certificates only).
    public var signInHost: SignInHost?

    public init() {}
}
