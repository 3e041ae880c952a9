import Testing

@testable import Gateway

@Suite struct RouteTableTests {
    static func route(_ id: String, _ hosts: [String], _ prefix: String) throws -> Route<Int> {
        Route(id: id, hosts: try hosts.map { host throws(RouteTableError) in try HostPattern(host) }, pathPrefix: prefix, payload: 0)
    }

    let table = try! RouteTable<Int>([
        route("exact-root", ["app.corp.com"], "/"),
        route("exact-api", ["app.corp.com"], "/api"),
        route("wildcard-root", ["*.corp.com"], "/"),
        route("wildcard-api-v2", ["*.corp.com"], "/api/v2"),
        route("wildcard-admin", ["*.corp.com"], "/admin"),
        route("apex", ["corp.com"], "/"),
        route("exact-only-api", ["api.corp.com"], "/api"),
    ])

    @Test(
        arguments: [
            ("app.corp.com", "/", "exact-root"),
            ("app.corp.com", "/api", "exact-api"),
            ("app.corp.com", "/api/", "exact-api"),
            ("app.corp.com", "/api/x/y", "exact-api"),
            ("app.corp.com", "/apix", "exact-root"),
            ("app.corp.com", "/API", "exact-root"),
            // Exact host beats wildcard even when the wildcard's prefix is longer.
            ("app.corp.com", "/api/v2/x", "exact-api"),
            ("app.corp.com", "/admin/users", "exact-root"),
            // The wildcard still serves what the exact host has no route for.
            ("api.corp.com", "/api/v2", "exact-only-api"),
            ("api.corp.com", "/admin/users", "wildcard-admin"),
            ("api.corp.com", "/", "wildcard-root"),
            ("other.corp.com", "/", "wildcard-root"),
            ("other.corp.com", "/api/v2", "wildcard-api-v2"),
            ("other.corp.com", "/api/v2x", "wildcard-root"),
            ("other.corp.com", "/api/v", "wildcard-root"),
            ("corp.com", "/admin", "apex"),
        ] as [(String, String, String)])
    func choosesMostSpecificRoute(host: String, path: String, expected: String) {
        #expect(table.match(host: host, path: path)?.id == expected)
    }

    @Test(arguments: ["a.b.corp.com", "corp.com.evil.com", "evilcorp.com", "app.corp.co", ".corp.com", "[::1]", ""])
    func wildcardCoversExactlyOneLabel(_ host: String) throws {
        let wildcardOnly = try RouteTable<Int>([Self.route("w", ["*.corp.com"], "/")])
        #expect(wildcardOnly.match(host: host, path: "/") == nil)
        #expect(wildcardOnly.match(host: "x.corp.com", path: "/")?.id == "w")
    }

    @Test func noRouteWithoutAMatchingPrefix() throws {
        let table = try RouteTable<Int>([Self.route("api", ["app.corp.com"], "/api")])
        #expect(table.match(host: "app.corp.com", path: "/") == nil)
        #expect(table.match(host: "app.corp.com", path: "/ap") == nil)
        #expect(table.match(host: "other.corp.com", path: "/api") == nil)
    }

    @Test func carriesPayload() throws {
        let table = try RouteTable<String>([
            Route(id: "a", hosts: [HostPattern("App.Corp.com.")], pathPrefix: "/", payload: "upstream-a")
        ])
        #expect(table.match(host: "app.corp.com", path: "/x")?.payload == "upstream-a")
    }

    @Test func refusesDuplicateHostAndPrefixNamingBothRoutes() throws {
        let routes = [
            try Self.route("first", ["app.corp.com", "*.corp.com"], "/api"),
            try Self.route("second", ["APP.corp.com."], "/api"),
        ]
        #expect(
            throws: RouteTableError.duplicateHostAndPrefix(
                host: "app.corp.com", pathPrefix: "/api", firstRouteID: "first", secondRouteID: "second"
            )
        ) {
            try RouteTable(routes)
        }
        let error = RouteTableError.duplicateHostAndPrefix(host: "h", pathPrefix: "/p", firstRouteID: "first", secondRouteID: "second")
        #expect(error.description.contains("'first'") && error.description.contains("'second'"))
    }

    @Test func sameHostDifferentPrefixAndSamePrefixDifferentHostAreFine() throws {
        _ = try RouteTable<Int>([
            Self.route("a", ["app.corp.com"], "/api"),
            Self.route("b", ["app.corp.com"], "/apis"),
            Self.route("c", ["*.corp.com"], "/api"),
            Self.route("d", ["other.corp.com"], "/api"),
        ])
    }

    @Test func refusesDuplicateAndEmptyIDsAndMissingHosts() throws {
        #expect(throws: RouteTableError.duplicateRouteID("a")) {
            try RouteTable([Self.route("a", ["x.corp.com"], "/"), Self.route("a", ["y.corp.com"], "/")])
        }
        #expect(throws: RouteTableError.emptyRouteID) { try RouteTable([Self.route("", ["x.corp.com"], "/")]) }
        #expect(throws: RouteTableError.routeWithoutHosts(routeID: "a")) { try RouteTable([Self.route("a", [], "/")]) }
    }

    @Test(arguments: [
        "", "api", "/api/", "//api", "/api//v1", "/api/./v1", "/api/..", "/api%2Fv1", "/api;v=1", "/api?x", "/api#x",
        "/api\\v1", "/api v1", "/api\tv1",
    ])
    func refusesNonCanonicalPrefixes(_ prefix: String) throws {
        let route = try Self.route("r", ["app.corp.com"], prefix)
        #expect {
            try RouteTable([route])
        } throws: { error in
            guard case let .invalidPathPrefix(routeID, reported, _) = error as? RouteTableError else { return false }
            return routeID == "r" && reported == prefix
        }
    }

    @Test(arguments: [
        "", "*", "*.", "**.corp.com", "a.*.corp.com", "*corp.com", "*.[::1]", "app.corp.com:443", "bücher.de",
        "app..corp.com", "app_1.corp.com",
    ])
    func refusesInvalidHostPatterns(_ pattern: String) {
        #expect {
            try HostPattern(pattern)
        } throws: { error in
            guard case let .invalidHostPattern(reported, _) = error as? RouteTableError else { return false }
            return reported == pattern
        }
    }

    @Test func canonicalizesHostPatterns() throws {
        #expect(try HostPattern("App.Corp.COM.").kind == .exact("app.corp.com"))
        #expect(try HostPattern("*.Corp.com").kind == .wildcard(parent: "corp.com"))
        #expect(try HostPattern("*.Corp.com").description == "*.corp.com")
        #expect(try HostPattern("[::1]").kind == .exact("[::1]"))
    }
}
