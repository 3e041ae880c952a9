import Database
import Foundation
import Logging
import PostgresNIO

/// All SQL of the identity service, on a shared `PostgresClient`.
///
/// Values always travel as bind parameters (postgres-nio turns every `\(value)` into `$n`),
/// so no input can change a statement. Multi-step changes run in one transaction, and changes
/// other processes must see (revocations, roles) publish a NOTIFY in that same transaction,
/// so a listener never hears of a change that was rolled back.
public struct IdentityStore: Sendable {
    public let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Runs `body` in a transaction; our own errors thrown inside come out unwrapped, database
    /// errors become `.conflict` (unique/foreign-key violations) or `.unavailable`.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws(IdentityError) -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            throw Self.translate(error.closureError ?? error.commitError ?? error.beginError ?? error)
        } catch {
            throw Self.translate(error)
        }
    }

    /// Runs one statement outside a transaction with the same error translation.
    func run<T>(_ body: () async throws -> T) async throws(IdentityError) -> T {
        do { return try await body() } catch { throw Self.translate(error) }
    }

    static func translate(_ error: any Error) -> IdentityError {
        if let error = error as? IdentityError { return error }
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            switch state {
            case "23505": return .conflict("already exists" + constraintSuffix(error))
            case "23503": return .notFound("referenced object" + constraintSuffix(error))
            case "23514", "22001": return .invalidInput([FieldError("input", "rejected by the database" + constraintSuffix(error))])
            default: break
            }
        }
        return .unavailable(PostgresErrorText.describe(error))
    }

    private static func constraintSuffix(_ error: PSQLError) -> String {
        error.serverInfo?[.constraintName].map { " (\($0))" } ?? ""
    }

    /// Publishes `change` to every `RevocationFeed` once the surrounding transaction commits.
    static func notify(_ change: IdentityChange, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(IdentityChange.channel), \(change.payload))", logger: logger)
    }
}
