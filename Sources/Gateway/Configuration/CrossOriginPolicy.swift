import Foundation
import HTTPTypes

/// Which other web origins may call a route from a browser (CORS, the Fetch standard's
/// "CORS protocol"): a single-page application on `https://dispatch.example` calling the
/// route's API, or a browser's gRPC-Web client. A route with a policy has its CORS answered by
/// the gateway alone: preflights from a listed origin are answered without reaching the
/// upstream (they carry no credentials, so they could not pass admission), answers to a listed
/// origin carry the CORS fields, and no other origin ever gets one, whatever the upstream sends.
/// The calls themselves are authenticated and decided like any other request.
public struct CrossOriginPolicy: Sendable, Equatable {
    /// Serialized origins (`https://host` or `https://host:port`, lower case, no default port).
    public var origins: Set<String>
    /// Methods a preflight may ask for.
    public var methods: [String] = ["GET", "HEAD", "POST"]
    /// Request fields a preflight may ask for (lower case).
    public var headers: Set<String> = ["content-type", "authorization"]
    /// Response fields the calling page may read besides the CORS-safelisted ones.
    public var exposedHeaders: [String] = ["x-request-id"]
    /// Whether the page may send cookies and read answers to requests that carried them.
    public var credentials = true
    /// How long a browser may reuse a preflight's answer.
    public var maxAge: Duration = .seconds(600)

    public init(origins: Set<String>) {
        self.origins = origins
    }

    /// An origin as the configuration writes it, serialized as browsers send it; an error says
    /// what is wrong. Only `http` and `https` origins, with a host and nothing after it: no
    /// path, no wildcard, no `null` (a sandboxed page's, which any page can claim).
    public static func origin(_ text: String) throws(InvalidOrigin) -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host?.lowercased(), !host.isEmpty, url.user == nil, url.password == nil, url.query == nil, url.fragment == nil,
            url.path.isEmpty, !text.hasSuffix("/"), !host.contains("*")
        else {
            throw InvalidOrigin(text: text)
        }
        let defaultPort = scheme == "https" ? 443 : 80
        return url.port.map { $0 == defaultPort ? "\(scheme)://\(host)" : "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
    }

    /// Whether `origin` (a request's `Origin` field) is listed.
    func allows(_ origin: String) -> Bool { origins.contains(origin.lowercased()) }

    /// Why a preflight from a listed origin is refused; nil when its method and fields are allowed.
    func refusal(ofPreflight fields: HTTPFields) -> String? {
        let method = fields[.accessControlRequestMethod] ?? ""
        guard methods.contains(method) else { return "the method \(method) is not allowed from other origins" }
        let asked = (fields[.accessControlRequestHeaders] ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        if let field = asked.first(where: { !$0.isEmpty && !headers.contains($0) }) { return "the field \(field) is not allowed from other origins" }
        return nil
    }

    /// A configured origin that is not one.
    public struct InvalidOrigin: Error, CustomStringConvertible {
        let text: String
        public var description: String {
            "'\(text)' is not an origin: expected one such as https://dispatch.example or https://dispatch.example:8443 (no path, no wildcard)"
        }
    }
}
