import Foundation
import Logging
import PostgresNIO
import Tokens

/// The token signing key ring in PostgreSQL, shared by every identity replica.
///
/// Records hold only sealed seeds (see `KeyRecord`). `update` runs under an advisory lock in
/// one transaction, so when two replicas find a rotation due at the same moment exactly one
/// rotates and the other sees its result.
public struct PostgresKeyRingStore: KeyRingStore {
    let client: PostgresClient
    let logger: Logger
    /// Which ring: `tokens` (Ed25519: access tokens, assertions), `oidc-rs256` or `oidc-es256`
    /// (the OpenID provider's RSA and P-256 keys). Each rotates on its own.
    let ring: String

    public static let tokens = "tokens"
    public static let openIDRSA = "oidc-rs256"
    public static let openIDP256 = "oidc-es256"

    public init(client: PostgresClient, logger: Logger, ring: String = PostgresKeyRingStore.tokens) {
        self.client = client
        self.logger = logger
        self.ring = ring
    }

    public func load() async throws(KeyRingError) -> KeyRing {
        do {
            return try await Self.read(
                client.query("SELECT record::text FROM identity_signing_keys WHERE ring = \(ring) ORDER BY id", logger: logger))
        } catch let error as KeyRingError {
            throw error
        } catch {
            throw .storeUnreadable(path: "identity_signing_keys", reason: "\(IdentityStore.translate(error))")
        }
    }

    public func save(_ ring: KeyRing) async throws(KeyRingError) {
        _ = try await update { _ in ring }
    }

    public func update(
        _ change: @Sendable (KeyRing) throws(KeyRingError) -> KeyRing
    ) async throws(KeyRingError)
        -> (before: KeyRing, after: KeyRing)
    {
        let logger = self.logger
        let ring = self.ring
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext('identity_signing_keys:' || \(ring)))", logger: logger)
                let before = try await Self.read(
                    connection.query("SELECT record::text FROM identity_signing_keys WHERE ring = \(ring) ORDER BY id", logger: logger))
                let after = try change(before)
                guard after != before else { return (before, after) }
                try await connection.query("DELETE FROM identity_signing_keys WHERE ring = \(ring)", logger: logger)
                let encoder = JSONEncoder()
                encoder.dateEncodingStrategy = .secondsSince1970
                for record in after.records {
                    let json = String(decoding: try encoder.encode(record), as: UTF8.self)
                    try await connection.query(
                        "INSERT INTO identity_signing_keys (id, record, ring) VALUES (\(record.id), \(json)::jsonb, \(ring))", logger: logger)
                }
                try await IdentityStore.notify(.keysChanged, on: connection, logger: logger)
                return (before, after)
            }
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError as? KeyRingError { throw inner }
            throw .storeUnwritable(path: "identity_signing_keys", reason: "\(IdentityStore.translate(error.closureError ?? error))")
        } catch {
            throw .storeUnwritable(path: "identity_signing_keys", reason: "\(IdentityStore.translate(error))")
        }
    }

    private static func read(_ rows: PostgresRowSequence) async throws -> KeyRing {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        var records: [KeyRecord] = []
        for try await json in rows.decode(String.self) {
            do {
                records.append(try decoder.decode(KeyRecord.self, from: Data(json.utf8)))
            } catch {
                throw KeyRingError.corruptRecord("identity_signing_keys")
            }
        }
        return KeyRing(records: records)
    }
}
