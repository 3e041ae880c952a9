import Testing

@testable import Database

@Suite struct DatabaseURLTests {
    @Test func tcpURL() throws {
        let url = try DatabaseURL("postgres://app:s3cret@db.internal:6432/portcullis?sslmode=require")
        #expect(url.endpoint == .tcp(host: "db.internal", port: 6432))
        #expect(url.username == "app")
        #expect(url.password == "s3cret")
        #expect(url.database == "portcullis")
        #expect(url.tlsMode == .require)
    }

    @Test func defaultsToPortAndPreferredTLS() throws {
        let url = try DatabaseURL("postgresql://app@localhost/db")
        #expect(url.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(url.tlsMode == .prefer)
        #expect(url.password == nil)
    }

    @Test func unixSocketAsQueryParameter() throws {
        let url = try DatabaseURL("postgres://app@/db?host=/run/postgresql&port=5433")
        #expect(url.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5433"))
        #expect(url.tlsMode == .disable)
    }

    @Test func unixSocketAsEncodedHost() throws {
        let url = try DatabaseURL("postgres://app@%2Ftmp%2Fpg/db")
        #expect(url.endpoint == .unixSocket(path: "/tmp/pg/.s.PGSQL.5432"))
    }

    @Test func percentEncodedCredentials() throws {
        let url = try DatabaseURL("postgres://app:p%40ss%3Aword@h/db")
        #expect(url.password == "p@ss:word")
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let url = try DatabaseURL("postgres://app:hunter2@h:5432/db")
        #expect(!url.description.contains("hunter2"))
        #expect(url.description == "postgres://app:***@h:5432/db")
    }

    @Test(arguments: [
        "mysql://app@h/db", "postgres://h/db", "postgres://app@h/", "postgres://app@h:99999/db",
        "postgres://app@h/db?sslmode=sometimes", "postgres://app@h/db?colour=blue", "not a url at all",
    ])
    func rejectsMalformedURLs(_ text: String) {
        #expect(throws: DatabaseURLError.self) { try DatabaseURL(text) }
    }
}

@Suite struct DatabaseURLRoundTripTests {
    @Test(arguments: [
        "postgres://app:p%40ss@h:5433/db?sslmode=require",
        "postgres://app@/db?host=/tmp/pg&port=5499",
        "postgres://app@db.internal:6432/db?sslmode=verify-full&sslrootcert=/etc/ca.pem",
    ])
    func connectionStringParsesBackToTheSameURL(_ text: String) throws {
        let url = try DatabaseURL(text)
        #expect(try DatabaseURL(url.connectionString) == url)
    }
}
