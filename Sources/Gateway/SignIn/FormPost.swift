import Foundation
import HTTPSyntax
import HTTPTypes
import Hummingbird
import Tokens

/// A form posted to one of the gateway's pages, accepted only when it came from a page the
/// gateway rendered on this host: its CSRF field equals the `__Host-portcullis-csrf` cookie
/// (double submit; the cookie is `SameSite=Strict` and `HttpOnly`) and its `Origin`, when the
/// browser sends one, is this host over HTTPS.
struct FormPost {
    static let maxBytes = 16 * 1024

    let fields: [String: String]
    /// The CSRF token, for the next form of the same flow.
    let csrf: String

    /// nil when the body is not a form, or the post is cross-site or forged.
    static func accept(_ request: Request, host: String) async -> FormPost? {
        guard let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded"),
            sameOrigin(request.headers, host: host),
            let expected = Authenticator.cookie(named: SessionCookies.csrf, in: request.headers),
            let buffer = try? await request.body.collect(upTo: maxBytes),
            let text = String(validating: buffer.readableBytesView, as: UTF8.self),
            case let .success(fields) = FormURLEncoded.parse(text),
            let presented = fields["csrf"], SecretComparison.equal(expected, presented)
        else { return nil }
        return FormPost(fields: fields, csrf: expected)
    }

    /// A post must come from this host when the browser says where it came from.
    private static func sameOrigin(_ fields: HTTPFields, host: String) -> Bool {
        guard let origin = fields[.origin] else { return true }
        guard let url = URL(string: origin), let originHost = url.host?.lowercased() else { return false }
        return url.scheme == "https" && originHost == host
    }
}
