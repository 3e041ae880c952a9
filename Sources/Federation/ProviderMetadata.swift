import Foundation

/// The parts of a provider's discovery document (OpenID Connect Discovery 1.0) Portcullis uses.
struct ProviderMetadata: Decodable, Sendable {
    let issuer: String
    let authorizationEndpoint: URL
    let tokenEndpoint: URL
    let jwksURI: URL
    let userinfoEndpoint: URL?
    let codeChallengeMethods: [String]?
    /// RFC 9207: the provider adds `iss` to every authorization response.
    let issuerInResponses: Bool?

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizationEndpoint = "authorization_endpoint"
        case tokenEndpoint = "token_endpoint"
        case jwksURI = "jwks_uri"
        case userinfoEndpoint = "userinfo_endpoint"
        case codeChallengeMethods = "code_challenge_methods_supported"
        case issuerInResponses = "authorization_response_iss_parameter_supported"
    }

    /// The document must name the issuer it was fetched for (Discovery §4.3), and its endpoints
    /// must be as trustworthy as the issuer.
    func check(against settings: ProviderSettings) throws(FederationError) {
        guard issuer == settings.issuer.absoluteString else {
            throw .providerUnavailable(provider: settings.id, reason: "discovery names issuer \(issuer), expected \(settings.issuer.absoluteString)")
        }
        for endpoint in [authorizationEndpoint, tokenEndpoint, jwksURI] where !ProviderSettings.isAcceptableIssuer(endpoint.withoutQuery) {
            throw .providerUnavailable(provider: settings.id, reason: "endpoint \(endpoint) is not https")
        }
        if let methods = codeChallengeMethods, !methods.contains("S256") {
            throw .providerUnavailable(provider: settings.id, reason: "the provider does not support PKCE S256")
        }
    }
}

extension URL {
    /// The URL without query or fragment (an endpoint may carry a query; its scheme is what matters).
    var withoutQuery: URL {
        var components = URLComponents(url: self, resolvingAgainstBaseURL: false)
        components?.query = nil
        components?.fragment = nil
        return components?.url ?? self
    }
}
