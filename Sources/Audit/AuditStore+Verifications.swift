import Foundation
import PostgresNIO
import Tokens

extension AuditStore {
    /// Keeps `verification`, authenticated under `masterKey` when there is one.
    public func record(_ verification: AuditVerification, masterKey: MasterKey?) async throws {
        let result = try verification.encoded()
        let authenticator = masterKey.map { $0.authenticator(purpose: AuditVerification.authenticationPurpose, Array(result)) }
        try await client.query(
            "INSERT INTO audit_verifications (result, authenticator) VALUES (\(String(decoding: result, as: UTF8.self)), \(authenticator))",
            logger: logger)
    }

    /// The newest stored verification, used only when `masterKey` vouches for it.
    public func latestVerification(masterKey: MasterKey?) async throws -> LatestVerification {
        let rows = try await client.query(
            "SELECT result, authenticator FROM audit_verifications ORDER BY id DESC LIMIT 1", logger: logger)
        for try await (result, authenticator) in rows.decode((String, String?).self) {
            let bytes = Array(result.utf8)
            let decoded = try? JSONDecoder().decode(AuditVerification.self, from: Data(bytes))
            guard let masterKey, let authenticator, let decoded,
                masterKey.vouches(for: bytes, purpose: AuditVerification.authenticationPurpose, authenticator: authenticator)
            else {
                return .unauthenticated(finishedAtMicros: decoded?.finishedAtMicros ?? 0)
            }
            return .vouched(decoded)
        }
        return .none
    }
}
