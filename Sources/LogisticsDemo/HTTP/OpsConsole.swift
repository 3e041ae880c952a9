import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A link on the ops console's page (`--console-link label=url`).
public struct ConsoleLink: Sendable, Equatable {
    public var label: String
    public var url: String

    public init(label: String, url: String) {
        self.label = label
        self.url = url
    }
}

/// The internal ops page: who the gateway says you are, and where the other services are.
/// One self-contained HTML document (no scripts, no external assets) under a CSP that allows
/// nothing but its own inline style, identified by a fresh nonce per response.
enum OpsConsole {
    static func register(on router: Router<DemoRequestContext>, links: [ConsoleLink], startedAt: Date) {
        router.get("/") { _, context in
            page(caller: try context.requireCaller(), links: links)
        }
        router.get("/v1/whoami") { _, context in
            JSONBody.response(.ok, WhoAmI(caller: try context.requireCaller(), service: DemoService.opsConsole.rawValue, startedAt: startedAt))
        }
    }

    struct WhoAmI: Encodable {
        let caller: Caller
        let service: String
        let startedAt: Date
    }

    static let style = """
        body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:46rem;padding:0 1rem;color:#1d2733}
        h1{font-size:1.4rem}table{border-collapse:collapse}th,td{text-align:left;padding:.25rem 1rem .25rem 0;vertical-align:top}
        th{color:#5a6775;font-weight:500}code{background:#eef1f4;padding:0 .25rem;border-radius:3px}
        .note{color:#5a6775;font-size:.9rem}
        """

    static func page(caller: Caller, links: [ConsoleLink]) -> Response {
        let nonce = Self.nonce()
        let rows: [(String, String)] = [
            ("Subject", caller.subject),
            ("Kind", caller.kind),
            ("Roles", caller.roles.isEmpty ? "(none)" : caller.roles.joined(separator: ", ")),
            ("Groups", caller.groups.isEmpty ? "(none)" : caller.groups.joined(separator: ", ")),
            ("Authenticated with", caller.authMethods.joined(separator: ", ")),
            ("Gateway request id", caller.requestID),
        ]
        let table = rows.map { "<tr><th>\(escape($0.0))</th><td><code>\(escape($0.1))</code></td></tr>" }.joined(separator: "\n")
        let list =
            links.isEmpty
            ? "<p class=\"note\">No service links configured (<code>--console-link label=url</code>).</p>"
            : "<ul>\n" + links.map { "<li><a href=\"\(escape($0.url))\">\(escape($0.label))</a></li>" }.joined(separator: "\n") + "\n</ul>"
        let html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width,initial-scale=1">
            <title>Ops console</title>
            <style nonce="\(nonce)">\(style)</style>
            </head>
            <body>
            <h1>Ops console</h1>
            <h2>The gateway says you are</h2>
            <table>
            \(table)
            </table>
            <p class="note">Read from the signed <code>X-Portcullis-Assertion</code> this service verified against the
            identity service's published keys. Nothing the network or the browser sent is trusted here.</p>
            <h2>Services</h2>
            \(list)
            </body>
            </html>

            """
        let csp = "default-src 'none'; style-src 'nonce-\(nonce)'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8", .contentSecurityPolicy: csp, .cacheControl: "no-store",
                .xContentTypeOptions: "nosniff", HTTPField.Name("Referrer-Policy")!: "no-referrer",
                HTTPField.Name("X-Frame-Options")!: "DENY",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// 144 random bits, base64: a CSP nonce, new for every page.
    static func nonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<18).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64EncodedString()
    }

    static let entities: [Character: String] = ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"]

    /// HTML text and attribute escaping.
    static func escape(_ text: String) -> String {
        text.reduce(into: "") { out, character in out += entities[character] ?? String(character) }
    }
}
