import Foundation
import NIOSSL
import PostgresNIO

/// A parsed `database.url`, the one way every Portcullis process names its PostgreSQL server.
///
/// Accepted forms (the libpq URI subset that operators already write):
/// - `postgres://user:password@host:5432/dbname?sslmode=require`
/// - `postgresql://user@host/dbname` (`postgresql` is an alias)
/// - `postgres://user@/dbname?host=/run/postgresql` (a unix-socket directory, port from `port=` or 5432)
/// - `postgres://user@%2Frun%2Fpostgresql:5433/dbname` (the socket directory percent-encoded as the host)
///
/// `sslmode` is `disable` (default for unix sockets), `prefer` (default for TCP) or `require`/`verify-full`
/// (`verify-full` checks the server certificate against the system trust store or `sslrootcert`).
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The full path of the socket file, e.g. `/run/postgresql/.s.PGSQL.5432`.
        case unixSocket(path: String)
    }

    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode
    /// A CA bundle (PEM) to verify the server with, instead of the system store.
    public var rootCertificatePath: String?

    public init(_ text: String) throws(DatabaseURLError) {
        guard let components = URLComponents(string: text) else { throw .malformed("not a URL") }
        guard let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql" else {
            throw .malformed("the scheme must be postgres:// or postgresql://")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard let value = item.value else { throw .malformed("query parameter '\(item.name)' has no value") }
            guard ["host", "port", "sslmode", "sslrootcert", "user", "password", "dbname"].contains(item.name) else {
                throw .malformed("unknown query parameter '\(item.name)'")
            }
            query[item.name] = value
        }

        let user = query["user"] ?? components.percentEncodedUser.flatMap { $0.removingPercentEncoding }
        guard let user, !user.isEmpty else { throw .malformed("a user name is required (postgres://USER@...)") }
        username = user
        password = query["password"] ?? components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }

        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let databaseName = query["dbname"] ?? path
        guard !databaseName.isEmpty, !databaseName.contains("/") else {
            throw .malformed("a database name is required (postgres://user@host/DATABASE)")
        }
        database = databaseName

        let portText = query["port"] ?? components.port.map(String.init)
        let port: Int
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else { throw .malformed("invalid port '\(portText)'") }
            port = parsed
        } else {
            port = 5432
        }

        let host = query["host"] ?? components.percentEncodedHost.flatMap { $0.removingPercentEncoding } ?? ""
        if host.hasPrefix("/") {
            endpoint = .unixSocket(path: "\(host)/.s.PGSQL.\(port)")
        } else if host.isEmpty {
            throw .malformed("a host or a unix-socket directory (?host=/path) is required")
        } else {
            endpoint = .tcp(host: host, port: port)
        }

        let defaultMode: TLSMode = if case .unixSocket = endpoint { .disable } else { .prefer }
        guard let mode = TLSMode(rawValue: query["sslmode"] ?? defaultMode.rawValue) else {
            throw .malformed("sslmode must be one of disable, prefer, require, verify-full")
        }
        tlsMode = mode
        rootCertificatePath = query["sslrootcert"]
    }

    /// The URL with the password replaced, safe for logs and error messages.
    public var description: String {
        let credentials = password == nil ? username : "\(username):***"
        switch endpoint {
        case .tcp(let host, let port): return "postgres://\(credentials)@\(host):\(port)/\(database)"
        case .unixSocket(let path): return "postgres://\(credentials)@/\(database)?socket=\(path)"
        }
    }

    /// The full URL with credentials, for handing to a child process. Never log it: use `description`.
    public var connectionString: String {
        let allowed = CharacterSet.urlUserAllowed.subtracting(CharacterSet(charactersIn: ":@/"))
        let user = username.addingPercentEncoding(withAllowedCharacters: allowed) ?? username
        let credentials = password.map { "\(user):\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0)" } ?? user
        var query = ["sslmode=\(tlsMode.rawValue)"]
        if let rootCertificatePath { query.append("sslrootcert=\(rootCertificatePath)") }
        switch endpoint {
        case .tcp(let host, let port):
            let hostPart = host.contains(":") ? "[\(host)]" : host
            return "postgres://\(credentials)@\(hostPart):\(port)/\(database)?\(query.joined(separator: "&"))"
        case .unixSocket(let path):
            let directory = (path as NSString).deletingLastPathComponent
            let port = path.split(separator: ".").last.map(String.init) ?? "5432"
            query += ["host=\(directory)", "port=\(port)"]
            return "postgres://\(credentials)@/\(database)?\(query.joined(separator: "&"))"
        }
    }

    /// The postgres-nio client configuration for this URL.
    public func clientConfiguration() -> PostgresClient.Configuration {
        switch endpoint {
        case .unixSocket(let path):
            return PostgresClient.Configuration(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            return PostgresClient.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: tls())
        }
    }

    /// The same settings for one connection outside the pool (a long-lived LISTEN).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        switch endpoint {
        case .unixSocket(let path):
            return PostgresConnection.Configuration(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS =
                switch tlsMode {
                case .disable: .disable
                case .prefer: .prefer(try NIOSSLContext(configuration: tlsConfiguration()))
                case .require, .verifyFull: .require(try NIOSSLContext(configuration: tlsConfiguration()))
                }
            return PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password,
                database: database, tls: tls)
        }
    }

    /// libpq semantics: `prefer` and `require` encrypt without checking the server's identity;
    /// only `verify-full` checks the certificate chain and the host name.
    private func tls() -> PostgresClient.Configuration.TLS {
        switch tlsMode {
        case .disable: .disable
        case .prefer: .prefer(tlsConfiguration())
        case .require, .verifyFull: .require(tlsConfiguration())
        }
    }

    private func tlsConfiguration() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let rootCertificatePath { configuration.trustRoots = .file(rootCertificatePath) }
        if tlsMode != .verifyFull { configuration.certificateVerification = .none }
        return configuration
    }
}

public enum DatabaseURLError: Error, Equatable, CustomStringConvertible {
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let reason): "invalid database URL: \(reason)"
        }
    }
}
