import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Tokens

/// The responses the gateway itself writes: short, without internals, always with the request
/// id so a user's report can be found in the audit trail. Browsers get HTML, everything else JSON.
enum GatewayAnswers {
    static func json(_ status: HTTPResponse.Status, _ body: [String: String], requestID: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        fields[GatewayHeaders.requestID] = requestID
        var object = body
        object["request_id"] = requestID
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func page(_ status: HTTPResponse.Status, title: String, message: String, requestID: String) -> Response {
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <meta name="viewport" content="width=device-width"></head>
            <body style="font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;color:#222">
            <h1>\(escape(title))</h1><p>\(escape(message))</p>
            <p style="color:#666">Request id: <code>\(escape(requestID))</code></p></body></html>
            """
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", GatewayHeaders.requestID: requestID,
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'", .xContentTypeOptions: "nosniff",
            ], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A top-level browser navigation (HTML accepted, not a script's fetch): these get pages and
    /// login redirects; API clients and single-page apps get JSON and a 401 instead.
    static func isBrowserNavigation(_ fields: HTTPFields) -> Bool {
        guard let accept = fields[.accept], accept.contains("text/html") else { return false }
        if fields[GatewayHeaders.requestedWith] != nil { return false }
        if let mode = fields[GatewayHeaders.fetchMode], mode != "navigate" { return false }
        return true
    }
}

enum GatewayHeaders {
    static let requestID = HTTPField.Name("X-Request-Id")!
    static let assertion = HTTPField.Name(AssertionHeader.name)!
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let forwardedHost = HTTPField.Name("X-Forwarded-Host")!
    static let requestedWith = HTTPField.Name("X-Requested-With")!
    static let fetchMode = HTTPField.Name("Sec-Fetch-Mode")!
}
