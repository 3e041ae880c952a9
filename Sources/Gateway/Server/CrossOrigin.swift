import HTTPTypes
import Hummingbird

/// A request from another web origin to a route with a ``CrossOriginPolicy``, and the CORS
/// answers the gateway gives it: a preflight answered here, and every answer's CORS fields.
struct CrossOrigin {
    let policy: CrossOriginPolicy
    /// The request's `Origin` field.
    let origin: String

    /// A browser's preflight: `OPTIONS` asking which method (and fields) a call may use.
    static func isPreflight(_ head: HTTPRequest) -> Bool {
        head.method == .options && head.headerFields[.accessControlRequestMethod] != nil
    }

    /// The answer to a preflight, and why it was refused (nil when it was not). A refusal
    /// carries no CORS field: the browser then makes no call.
    func preflight(_ fields: HTTPFields) -> (Response, refusal: String?) {
        guard policy.allows(origin) else {
            return (Response(status: .forbidden, headers: [.cacheControl: "no-store", .vary: "Origin"]), "an origin the route does not list")
        }
        if let refusal = policy.refusal(ofPreflight: fields) {
            return (Response(status: .forbidden, headers: [.cacheControl: "no-store", .vary: "Origin"]), refusal)
        }
        var headers = Self.allowing(origin, credentials: policy.credentials)
        headers[.accessControlAllowMethods] = policy.methods.joined(separator: ", ")
        headers[.accessControlAllowHeaders] = policy.headers.sorted().joined(separator: ", ")
        headers[.accessControlMaxAge] = String(policy.maxAge.components.seconds)
        headers[.vary] = "Origin"
        return (Response(status: .noContent, headers: headers), nil)
    }

    /// An answer to this origin: whatever CORS fields the upstream set are removed (the route's
    /// policy alone decides), and the gateway's are added when the origin is listed, so the
    /// page reads the answer, refusals included (a 401's sign-in URL, a 403's reason).
    func marked(_ response: Response) -> Response {
        var response = response
        var headers = HTTPFields(response.headers.filter { !$0.name.canonicalName.hasPrefix("access-control-") && $0.name != .vary })
        headers.append(contentsOf: Self.varying(response.headers))
        response.headers = headers
        guard policy.allows(origin) else { return response }
        response.headers.append(contentsOf: Self.allowing(origin, credentials: policy.credentials))
        if !policy.exposedHeaders.isEmpty { response.headers[.accessControlExposeHeaders] = policy.exposedHeaders.joined(separator: ", ") }
        return response
    }

    /// Whether the page that opens a WebSocket (its `Origin`) may: the route's own origin, or
    /// one its `cors:` lists. A browser sends the route host's cookies with a handshake from any
    /// page of the same site and applies no CORS to it, so without this a page on another host
    /// could act as whoever is signed in there. A handshake without `Origin` came from no page.
    static func allowsWebSocket(_ head: HTTPRequest, route: RouteSettings) -> Bool {
        guard let origin = head.headerFields[.origin]?.lowercased() else { return true }
        if let own = head.authority?.lowercased(), origin == "https://" + own || own.hasSuffix(":443") && origin == "https://" + own.dropLast(4) {
            return true
        }
        return route.crossOrigin?.allows(origin) ?? false
    }

    private static func allowing(_ origin: String, credentials: Bool) -> HTTPFields {
        var headers: HTTPFields = [.accessControlAllowOrigin: origin]
        if credentials { headers[.accessControlAllowCredentials] = "true" }
        return headers
    }

    /// The answer's `Vary` with `Origin` added: a cache must not give one origin's answer to another.
    private static func varying(_ headers: HTTPFields) -> HTTPFields {
        let others = headers[values: .vary].flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && $0.lowercased() != "origin" }
        return [.vary: (others + ["Origin"]).joined(separator: ", ")]
    }
}
