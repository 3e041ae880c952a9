import Foundation
import Gateway
import HTTPSyntax
import HTTPTypes
import Hummingbird
import Identity
import Tokens

/// The console's browser-side defences: a CSRF token on every POST (double submit: a
/// `SameSite=Strict`, `HttpOnly` `__Host-` cookie that forms echo in a `csrf` field and scripts in
/// an `X-CSRF-Token` header, compared in constant time), a refusal of cross-site posts, and the
/// response headers every page carries (a CSP without inline script or style, no sniffing, no
/// referrer, no caching, no framing).
enum ConsoleSecurity {
    static let cookieName = "__Host-portcullis-console-csrf"
    static let header = HTTPField.Name("X-CSRF-Token")!
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// 256 random bits, hex.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    static func csrfCookie(in fields: HTTPFields) -> String? {
        for line in fields[values: .cookie] {
            for pair in line.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == cookieName, parts[1].count == 64, parts[1].allSatisfy(\.isHexDigit) {
                    return String(parts[1])
                }
            }
        }
        return nil
    }

    /// Reads a POST's body into the context (form fields or JSON) and refuses it (403) unless it
    /// carries the browser's CSRF token and comes from this site.
    static func refuseForgery(_ request: Request, context: inout ConsoleContext) async -> Response? {
        let console = context.console
        let page = context
        func refusal(_ reason: String) -> Response {
            console.logger.notice("console post refused", metadata: ["reason": "\(reason)", "request_id": "\(page.caller.requestID)"])
            return console.render(
                .forbidden, "message",
                [
                    "title": "Refused", "message": "The form expired or did not come from this console. Reload the page and try again.",
                ], page)
        }
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" {
            return refusal("cross-site: \(site)")
        }
        // Pages are served with `Referrer-Policy: no-referrer`, under which browsers send form posts
        // with `Origin: null`: that says nothing either way, and the token and Sec-Fetch-Site decide.
        if let origin = request.headers[.origin], origin != "null" {
            guard let url = URL(string: origin), url.scheme == "https", url.host?.lowercased() == context.caller.host else {
                return refusal("origin \(origin)")
            }
        }
        guard let buffer = try? await request.body.collect(upTo: AdminConsole.maxBodyBytes) else { return refusal("body unreadable") }
        let type = request.headers[.contentType]?.lowercased() ?? ""
        let presented: String?
        if type.hasPrefix("application/json") {
            context.json = Data(buffer.readableBytesView)
            presented = request.headers[header]
        } else if type.hasPrefix("application/x-www-form-urlencoded") {
            guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else { return refusal("form is not UTF-8") }
            guard case let .success(fields) = FormURLEncoded.parse(text) else { return refusal("malformed form") }
            context.form = fields
            presented = fields["csrf"]
        } else {
            return refusal("content type \(type)")
        }
        // A browser without the cookie has no token to present: nothing it posts is accepted.
        guard !context.csrfIsNew, let presented, SecretComparison.equal(presented, context.csrf) else {
            return refusal("CSRF token missing or wrong")
        }
        return nil
    }

    /// The headers of every console response, and the CSRF cookie when the browser had none.
    static func harden(_ response: inout Response, context: ConsoleContext) {
        response.headers[.contentSecurityPolicy] = contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[.cacheControl] = "no-store"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        if context.csrfIsNew {
            response.headers.append(
                HTTPField(
                    name: .setCookie,
                    value: "\(cookieName)=\(context.csrf); Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=43200"))
        }
    }
}
