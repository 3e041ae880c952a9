import HTTPTypes

@testable import Gateway
@testable import HTTPSyntax

/// A request as the listener hands it over: the raw target in `path`, the host in `authority`.
func request(
    _ target: String,
    method: HTTPRequest.Method = .get,
    authority: String? = "app.corp.com",
    headers: [(String, String)] = []
) -> HTTPRequest {
    var fields = HTTPFields()
    for (name, value) in headers {
        fields.append(HTTPField(name: HTTPField.Name(name)!, value: value))
    }
    return HTTPRequest(method: method, scheme: "https", authority: authority, path: target, headerFields: fields)
}

/// The rejection a request gets, or nil when it is accepted.
func rejection(_ request: HTTPRequest) -> RequestRejection? {
    do {
        _ = try RequestCanonicalizer.canonicalize(request)
        return nil
    } catch {
        return error
    }
}

/// Routes of the reference file's scenario: `/public` is allowed, `/admin` denied, the rest
/// falls to a catch-all; another host stands for "another route".
let referenceRoutes = try! RouteTable<String>([
    Route(id: "public", hosts: [HostPattern("app.corp.com")], pathPrefix: "/public", payload: "allow"),
    Route(id: "admin", hosts: [HostPattern("app.corp.com")], pathPrefix: "/admin", payload: "deny"),
    Route(id: "internal", hosts: [HostPattern("app.corp.com")], pathPrefix: "/internal", payload: "deny"),
    Route(id: "catch-all", hosts: [HostPattern("app.corp.com")], pathPrefix: "/", payload: "login"),
    Route(id: "other", hosts: [HostPattern("other-route.proxy")], pathPrefix: "/", payload: "allow"),
])
