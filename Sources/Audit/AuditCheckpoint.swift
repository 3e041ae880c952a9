import Foundation
import Logging
import PostgresNIO
import Tokens

/// A signed statement "writer W's chain had reached sequence N with head hash H".
///
/// Without checkpoints, deleting the newest records of a chain leaves a shorter chain that still
/// verifies; with them, `audit verify` knows how far each chain had got and who vouched for it.
/// Each checkpoint is a PASETO v4.public token (implicit assertion `portcullis-audit-checkpoint`)
/// signed with the key ring's active Ed25519 key.
public struct AuditCheckpoint: Sendable, Equatable, Codable {
    public static let implicitAssertion = Array("portcullis-audit-checkpoint".utf8)

    public var writerID: UUID
    public var sequence: Int64
    public var headHash: [UInt8]

    public init(writerID: UUID, sequence: Int64, headHash: [UInt8]) {
        self.writerID = writerID
        self.sequence = sequence
        self.headHash = headHash
    }

    private struct Payload: Codable, Equatable {
        var writer: String
        var seq: Int64
        var head: String
    }

    private var payload: Payload {
        Payload(writer: writerID.uuidString.lowercased(), seq: sequence, head: Hex.text(headHash))
    }

    /// The signed token; its footer names the key.
    public func sign(with signer: TokenSigner) throws -> (keyID: String, token: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let keyID = signer.key.publicKey.keyID
        let footer = Array(#"{"kid":"\#(keyID)"}"#.utf8)
        let token = PasetoV4.sign(
            Array(try encoder.encode(payload)), with: signer.key, footer: footer,
            implicit: Self.implicitAssertion)
        return (keyID, token)
    }

    /// Whether `token` is a valid signature by `keyID` over exactly this checkpoint.
    public func isVouched(by token: String, keyID: String, keys: VerificationKeys) -> Bool {
        guard let key = try? keys.key(for: keyID),
            let verified = try? PasetoV4.verify(token, with: key, implicit: Self.implicitAssertion),
            let signed = try? JSONDecoder().decode(Payload.self, from: Data(verified.payload))
        else { return false }
        return signed == payload
    }
}

extension AuditStore {
    func saveCheckpoint(_ checkpoint: AuditCheckpoint, keyID: String, token: String) async throws {
        try await client.query(
            """
            INSERT INTO audit_checkpoints (writer_id, seq, head_hash, signed_at, key_id, token)
            VALUES (\(checkpoint.writerID), \(checkpoint.sequence), \(ByteBuffer(bytes: checkpoint.headHash)), now(), \(keyID), \(token))
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// Keeps `key` in the archive of checkpoint keys (once; a key already there is left as it is).
    func archive(_ key: Ed25519PublicKey, authenticator: String) async throws {
        try await client.query(
            """
            INSERT INTO audit_signing_keys (key_id, public_key, authenticator) VALUES (\(key.keyID), \(key.paserk), \(authenticator))
            ON CONFLICT (key_id) DO NOTHING
            """, logger: logger)
    }

    /// The archive of checkpoint keys: those whose authenticator `isAuthentic` accepts, and the
    /// ids of the others (added or altered without the master key).
    public func archivedKeys(
        isAuthentic: (Ed25519PublicKey, String) -> Bool
    ) async throws -> (keys: [Ed25519PublicKey], untrusted: [String]) {
        var keys: [Ed25519PublicKey] = []
        var untrusted: [String] = []
        let rows = try await client.query("SELECT key_id, public_key, authenticator FROM audit_signing_keys ORDER BY first_used_at", logger: logger)
        for try await (keyID, paserk, authenticator) in rows.decode((String, String, String).self) {
            if let key = try? Ed25519PublicKey(paserk: paserk), key.keyID == keyID, isAuthentic(key, authenticator) {
                keys.append(key)
            } else {
                untrusted.append(keyID)
            }
        }
        return (keys, untrusted)
    }

    /// Every stored checkpoint with its key id and token.
    func checkpoints() async throws -> [(checkpoint: AuditCheckpoint, keyID: String, token: String)] {
        var result: [(AuditCheckpoint, String, String)] = []
        let rows = try await client.query(
            "SELECT writer_id, seq, head_hash, key_id, token FROM audit_checkpoints ORDER BY writer_id, seq",
            logger: logger)
        for try await (writer, seq, head, keyID, token) in rows.decode((UUID, Int64, ByteBuffer, String, String).self) {
            result.append((AuditCheckpoint(writerID: writer, sequence: seq, headHash: Array(buffer: head)), keyID, token))
        }
        return result
    }
}
