import Database
import Foundation
import Logging
import PKI
import PostgresNIO
import X509

/// A certificate signed by the Workload API, as recorded.
public struct IssuedCertificate: Sendable, Equatable, Encodable {
    public var serial: String
    public var service: String?
    public var spiffeID: String
    public var notBefore: Date
    public var notAfter: Date
    public var issuedAt: Date
    /// `join_token` or `renewal`.
    public var method: String

    enum CodingKeys: String, CodingKey {
        case serial, service, method
        case spiffeID = "spiffe_id"
        case notBefore = "not_before"
        case notAfter = "not_after"
        case issuedAt = "issued_at"
    }
}

/// What revoking a certificate did: whether the named one was newly revoked, and the serials of
/// certificates renewed from it (directly or through other renewals) revoked with it.
public struct CertificateRevocation: Sendable, Equatable {
    public let revoked: Bool
    public let renewals: [String]
}

/// What entitles a caller to a certificate, as the store checks it inside the issuing transaction.
enum IssuanceGrant: Sendable {
    /// A join token, by its keyed hash; consumed by the same transaction that records the certificate.
    case joinToken(hash: [UInt8])
    /// A renewal by the service named in a gateway assertion; `requestID` (the assertion's jti)
    /// is recorded uniquely, so one assertion signs at most one certificate. `presented` is the
    /// certificate the service authenticated with, by its SHA-256 (hex): the new certificate is
    /// recorded as renewed from it.
    case renewal(service: String, requestID: String, presented: String)

    var method: String {
        switch self {
        case .joinToken: "join_token"
        case .renewal: "renewal"
        }
    }
}

extension IdentityStore {
    // MARK: Join tokens

    /// Stores a join token's hash for `service`; the token itself is never stored.
    func createJoinToken(service name: String, hash: [UInt8], expiresAt: Date, createdBy: String) async throws(WorkloadError) -> ServiceAccount {
        let service = try await eligibleService(name)
        let logger = self.logger
        try await workloadTransaction { connection in
            try await connection.query(
                """
                INSERT INTO identity_join_tokens (token_hash, service_id, created_by, expires_at)
                VALUES (\(ByteBuffer(bytes: hash)), \(service.id), \(createdBy), \(expiresAt))
                """, logger: logger)
        }
        return service
    }

    // MARK: Issuance

    /// Checks the grant, signs with `sign` and records the certificate, all in one transaction:
    /// a join token is spent only when a certificate is recorded, and a certificate exists only
    /// when its grant was valid. `sign` gets the service account (active, with a SPIFFE binding)
    /// and returns the certificate to record.
    func issueCertificate(
        _ grant: IssuanceGrant, now: Date, sign: @escaping @Sendable (ServiceAccount) throws -> [Certificate]
    )
        async throws(WorkloadError) -> (service: ServiceAccount, chain: [Certificate])
    {
        let logger = self.logger
        return try await workloadTransaction { connection in
            let service: ServiceAccount
            var renewedFrom: String?
            switch grant {
            case let .joinToken(hash):
                let rows = try await connection.query(
                    """
                    UPDATE identity_join_tokens SET used_at = now()
                    WHERE token_hash = \(ByteBuffer(bytes: hash)) AND used_at IS NULL AND expires_at > now()
                    RETURNING service_id
                    """, logger: logger)
                var serviceID: UUID?
                for try await id in rows.decode(UUID.self) { serviceID = id }
                guard let serviceID else { throw WorkloadError.invalidJoinToken }
                let accounts = try await connection.query(
                    "SELECT \(unescaped: Self.serviceColumns) FROM identity_service_accounts s WHERE s.id = \(serviceID)", logger: logger)
                service = try await Self.eligibleService(accounts)
            case let .renewal(name, _, presented):
                let rows = try await connection.query(
                    "SELECT \(unescaped: Self.serviceColumns) FROM identity_service_accounts s WHERE s.name = \(name)", logger: logger)
                service = try await Self.eligibleService(rows)
                renewedFrom = try await Self.renewable(presented, service: service, now: now, on: connection, logger: logger)
            }
            let chain = try sign(service)
            guard let leaf = chain.first else { throw WorkloadError.signingFailed("no certificate was produced") }
            let requestID: String? = if case let .renewal(_, id, _) = grant { id } else { nil }
            let digest: String
            do { digest = try leaf.sha256Fingerprint() } catch { throw WorkloadError.signingFailed("\(error)") }
            do {
                try await connection.query(
                    """
                    INSERT INTO identity_issued_certificates
                        (serial, service_id, spiffe_id, not_before, not_after, method, request_id, sha256, renewed_from)
                    VALUES (\(leaf.serialNumber.hex), \(service.id), \(service.spiffeID ?? ""), \(leaf.notValidBefore),
                            \(leaf.notValidAfter), \(grant.method), \(requestID), \(digest), \(renewedFrom))
                    """, logger: logger)
            } catch let error as PSQLError
                where error.serverInfo?[.sqlState] == "23505"
                && error.serverInfo?[.constraintName] == "identity_issued_certificates_request_id_key"
            {
                throw WorkloadError.invalidAssertion("this assertion was already used to sign a certificate")
            }
            return (service, chain)
        }
    }

    /// The serial of the certificate a renewal was presented with, after checking that this CA
    /// issued it to `service` (it is on record by its digest), that it is valid at `now`, and that
    /// neither it nor any certificate it was renewed from is revoked. The gateway checked the same
    /// at the handshake and on the request; this does not rely on it. Runs under the lineage lock
    /// shared by renewals, which a revocation takes exclusively: a revocation either sees this
    /// renewal's certificate (and revokes it too) or this renewal sees the revocation.
    private static func renewable(
        _ digest: String, service: ServiceAccount, now: Date, on connection: PostgresConnection,
        logger: Logger
    ) async throws -> String {
        try await connection.query("SELECT pg_advisory_xact_lock_shared(hashtext('identity_certificate_lineage'))", logger: logger)
        let rows = try await connection.query(
            """
            SELECT serial, service_id, not_before, not_after FROM identity_issued_certificates WHERE sha256 = \(digest)
            """, logger: logger)
        var found: (serial: String, serviceID: UUID?, notBefore: Date, notAfter: Date)?
        for try await row in rows.decode((String, UUID?, Date, Date).self) { found = row }
        guard let found else { throw WorkloadError.renewalRefused(.notOnRecord) }
        guard found.serviceID == service.id else { throw WorkloadError.renewalRefused(.anotherService(serial: found.serial)) }
        guard found.notBefore <= now, now <= found.notAfter else {
            throw WorkloadError.renewalRefused(.notValid(serial: found.serial, notBefore: found.notBefore, notAfter: found.notAfter))
        }
        let revoked = try await connection.query(
            """
            WITH RECURSIVE lineage (serial, renewed_from) AS (
                SELECT serial, renewed_from FROM identity_issued_certificates WHERE serial = \(found.serial)
                UNION
                SELECT c.serial, c.renewed_from FROM identity_issued_certificates c JOIN lineage l ON c.serial = l.renewed_from
            )
            SELECT l.serial FROM lineage l JOIN identity_revoked_certificates r ON r.serial = l.serial LIMIT 1
            """, logger: logger)
        var revokedSerial: String?
        for try await serial in revoked.decode(String.self) { revokedSerial = serial }
        if let revokedSerial {
            throw WorkloadError.renewalRefused(.revoked(serial: found.serial, revokedAncestor: revokedSerial == found.serial ? nil : revokedSerial))
        }
        return found.serial
    }

    /// The certificates issued to a service, newest first.
    public func issuedCertificates(service name: String, limit: Int = 100) async throws(WorkloadError) -> [IssuedCertificate] {
        try await workloadRun {
            let rows = try await client.query(
                """
                SELECT c.serial, s.name, c.spiffe_id, c.not_before, c.not_after, c.issued_at, c.method
                FROM identity_issued_certificates c LEFT JOIN identity_service_accounts s ON s.id = c.service_id
                WHERE s.name = \(name) ORDER BY c.issued_at DESC LIMIT \(limit)
                """, logger: logger)
            var issued: [IssuedCertificate] = []
            for try await row in rows.decode((String, String?, String, Date, Date, Date, String).self) {
                issued.append(
                    IssuedCertificate(
                        serial: row.0, service: row.1, spiffeID: row.2, notBefore: row.3, notAfter: row.4,
                        issuedAt: row.5, method: row.6))
            }
            return issued
        }
    }

    /// The issuance record of one serial, if the Workload API signed it.
    public func issuedCertificate(serial: String) async throws(WorkloadError) -> IssuedCertificate? {
        try await workloadRun {
            let rows = try await client.query(
                """
                SELECT c.serial, s.name, c.spiffe_id, c.not_before, c.not_after, c.issued_at, c.method
                FROM identity_issued_certificates c LEFT JOIN identity_service_accounts s ON s.id = c.service_id
                WHERE c.serial = \(serial)
                """, logger: logger)
            for try await row in rows.decode((String, String?, String, Date, Date, Date, String).self) {
                return IssuedCertificate(
                    serial: row.0, service: row.1, spiffeID: row.2, notBefore: row.3, notAfter: row.4,
                    issuedAt: row.5, method: row.6)
            }
            return nil
        }
    }

    // MARK: Revocation

    /// Revokes a certificate until `expiresAt` (its notAfter), and with it every unexpired
    /// certificate renewed from it, however many renewals down; tells every gateway through NOTIFY
    /// in the same transaction. Revoking again keeps the first record (`revoked` is false) but
    /// still revokes renewals that escaped an earlier revocation.
    public func revokeCertificate(
        serial: String, reason: RevocationReason, revokedBy: String, expiresAt: Date
    )
        async throws(WorkloadError) -> CertificateRevocation
    {
        let logger = self.logger
        return try await workloadTransaction { connection in
            // Exclusive against renewals (which share it): every renewal from this lineage has
            // committed, and is seen below, or waits and then finds the revocation.
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext('identity_certificate_lineage'))", logger: logger)
            func revocations(_ rows: PostgresRowSequence) async throws -> [Revocation] {
                var revoked: [Revocation] = []
                for try await (serial, revokedAt, until) in rows.decode((String, Date, Date).self) {
                    revoked.append(Revocation(kind: .certificate, value: serial, revokedAt: revokedAt, expiresAt: until))
                }
                return revoked
            }
            let named = try await revocations(
                try await connection.query(
                    """
                    INSERT INTO identity_revoked_certificates (serial, reason, revoked_by, expires_at)
                    VALUES (\(serial), \(reason.rawValue), \(revokedBy), \(expiresAt))
                    ON CONFLICT (serial) DO NOTHING
                    RETURNING serial, revoked_at, expires_at
                    """, logger: logger))
            let renewed = try await revocations(
                try await connection.query(
                    """
                    WITH RECURSIVE renewed (serial, not_after) AS (
                        SELECT serial, not_after FROM identity_issued_certificates WHERE renewed_from = \(serial)
                        UNION
                        SELECT c.serial, c.not_after FROM identity_issued_certificates c JOIN renewed r ON c.renewed_from = r.serial
                    )
                    INSERT INTO identity_revoked_certificates (serial, reason, revoked_by, expires_at)
                    SELECT serial, \(reason.rawValue), \(revokedBy), not_after FROM renewed WHERE not_after > now()
                    ON CONFLICT (serial) DO NOTHING
                    RETURNING serial, revoked_at, expires_at
                    """, logger: logger))
            for revocation in named + renewed { try await Self.notify(.revoked(revocation), on: connection, logger: logger) }
            return CertificateRevocation(revoked: !named.isEmpty, renewals: renewed.map(\.value))
        }
    }

    /// Revoked certificates that have not expired: the CRL's entries.
    public func revokedCertificates() async throws(WorkloadError) -> [RevokedCertificate] {
        try await workloadRun {
            let rows = try await client.query(
                """
                SELECT serial, reason, revoked_at FROM identity_revoked_certificates WHERE expires_at > now() ORDER BY revoked_at, serial
                """, logger: logger)
            var revoked: [RevokedCertificate] = []
            for try await (serial, reason, revokedAt) in rows.decode((String, String, Date).self) {
                guard let number = try? Certificate.SerialNumber(hex: serial) else { continue }
                revoked.append(
                    RevokedCertificate(
                        serialNumber: number, revocationDate: revokedAt,
                        reason: RevocationReason(rawValue: reason) ?? .unspecified))
            }
            return revoked
        }
    }

    /// The next cRLNumber, shared by every replica.
    func nextCRLNumber() async throws(WorkloadError) -> UInt64 {
        try await workloadRun {
            let rows = try await client.query("SELECT nextval('identity_crl_number')", logger: logger)
            for try await number in rows.decode(Int64.self) { return UInt64(number) }
            throw WorkloadError.unavailable("nextval returned nothing")
        }
    }

    // MARK: Helpers

    /// An active service account with a SPIFFE binding, or why it cannot have certificates.
    func eligibleService(_ name: String) async throws(WorkloadError) -> ServiceAccount {
        let found: ServiceAccount?
        do { found = try await service(name) } catch { throw .unavailable(error.description) }
        guard let found else { throw .unknownService(name) }
        try Self.checkEligible(found)
        return found
    }

    private static func eligibleService(_ rows: PostgresRowSequence) async throws -> ServiceAccount {
        for try await row in rows.decode(ServiceRow.self) {
            let service = Self.service(row)
            try checkEligible(service)
            return service
        }
        throw WorkloadError.serviceNotEligible("the service account no longer exists")
    }

    private static func checkEligible(_ service: ServiceAccount) throws(WorkloadError) {
        guard service.status == .active else { throw .serviceNotEligible("service account '\(service.name)' is \(service.status.rawValue)") }
        guard service.spiffeID != nil else {
            throw .serviceNotEligible("service account '\(service.name)' has no SPIFFE ID (create it with --spiffe-id)")
        }
    }

    private func workloadTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws(WorkloadError) -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            throw Self.translateWorkload(error.closureError ?? error.commitError ?? error.beginError ?? error)
        } catch {
            throw Self.translateWorkload(error)
        }
    }

    private func workloadRun<T>(_ body: () async throws -> T) async throws(WorkloadError) -> T {
        do { return try await body() } catch { throw Self.translateWorkload(error) }
    }

    private static func translateWorkload(_ error: any Error) -> WorkloadError {
        if let error = error as? WorkloadError { return error }
        if let error = error as? IdentityError { return .unavailable(error.description) }
        return .unavailable(PostgresErrorText.describe(error))
    }
}
