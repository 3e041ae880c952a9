import CSodium
import Foundation

/// The key that seals signing keys at rest (XChaCha20-Poly1305, libsodium AEAD).
///
/// Supplied by a file or the `PORTCULLIS_MASTER_KEY` environment variable as 32 raw bytes,
/// 64 hex digits, or base64/base64url. Never printed: `description` is redacted, and errors
/// say what was wrong with the format, never the value.
public struct MasterKey: Sendable, CustomStringConvertible {
    let secret: SecretBytes
    /// Name of the environment variable the CLI and service read.
    public static let environmentVariable = "PORTCULLIS_MASTER_KEY"

    public init(bytes: [UInt8]) throws(KeyRingError) {
        guard bytes.count == crypto_aead_xchacha20poly1305_ietf_keybytes() else {
            throw KeyRingError.invalidMasterKey("must be 32 bytes, got \(bytes.count)")
        }
        secret = SecretBytes(bytes)
    }

    /// A fresh random master key (for `keys init`-style bootstrapping and tests).
    public static func generate() throws(KeyRingError) -> MasterKey {
        guard Sodium.ready else { throw KeyRingError.invalidMasterKey("libsodium unavailable") }
        var raw = Sodium.randomBytes(32)
        defer { Sodium.wipe(&raw) }
        return try MasterKey(bytes: raw)
    }

    /// Parses the text or raw forms described on the type.
    public init(encoded data: [UInt8]) throws(KeyRingError) {
        if data.count == 32 {
            try self.init(bytes: data)
            return
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        var decoded: [UInt8]?
        if text.count == 64, text.allSatisfy(\.isHexDigit) {
            decoded = stride(from: 0, to: 64, by: 2).map { offset in
                let start = text.index(text.startIndex, offsetBy: offset)
                return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)!
            }
        } else {
            let urlSafe = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .trimmingCharacters(in: CharacterSet(charactersIn: "="))
            decoded = Base64URL.decode(urlSafe)
        }
        guard var raw = decoded else { throw KeyRingError.invalidMasterKey("expected 32 raw bytes, 64 hex digits or base64") }
        defer { Sodium.wipe(&raw) }
        try self.init(bytes: raw)
    }

    /// Reads the key from a file (which should be mode 0600).
    public init(contentsOf url: URL) throws(KeyRingError) {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw KeyRingError.invalidMasterKey("cannot read master key file \(url.path)")
        }
        var raw = Array(data)
        defer { Sodium.wipe(&raw) }
        try self.init(encoded: raw)
    }

    /// Reads the key from `PORTCULLIS_MASTER_KEY`, or nil if it is unset.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(KeyRingError) -> MasterKey? {
        guard let value = environment[environmentVariable] else { return nil }
        return try MasterKey(encoded: Array(value.utf8))
    }

    /// Encrypts `plaintext`, binding it to `context` (a key id, or `totp:<user id>`) as associated
    /// data so a sealed secret cannot be moved to another record.
    public func seal(_ plaintext: [UInt8], context: String) -> SealedSecret {
        let nonce = Sodium.randomBytes(crypto_aead_xchacha20poly1305_ietf_npubbytes())
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + crypto_aead_xchacha20poly1305_ietf_abytes())
        let ad = Array(context.utf8)
        secret.withBytes { key in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                &ciphertext, nil, plaintext, UInt64(plaintext.count), ad, UInt64(ad.count), nil, nonce,
                key.bindMemory(to: UInt8.self).baseAddress!)
        }
        return SealedSecret(nonce: Base64URL.encode(nonce), ciphertext: Base64URL.encode(ciphertext))
    }

    /// Decrypts a sealed secret; fails on a wrong master key, wrong context or any tampering.
    public func open(_ sealed: SealedSecret, context: String) throws(KeyRingError) -> [UInt8] {
        guard let nonce = Base64URL.decode(sealed.nonce), nonce.count == crypto_aead_xchacha20poly1305_ietf_npubbytes(),
            let ciphertext = Base64URL.decode(sealed.ciphertext), ciphertext.count >= crypto_aead_xchacha20poly1305_ietf_abytes()
        else { throw KeyRingError.corruptRecord(context) }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count - crypto_aead_xchacha20poly1305_ietf_abytes())
        let ad = Array(context.utf8)
        let result = secret.withBytes { key in
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                &plaintext, nil, nil, ciphertext, UInt64(ciphertext.count), ad, UInt64(ad.count), nonce,
                key.bindMemory(to: UInt8.self).baseAddress!)
        }
        guard result == 0 else { throw KeyRingError.unsealFailed(keyID: context) }
        return plaintext
    }

    /// A 32-byte subkey for one purpose (`keyed BLAKE2b-256(master key, "portcullis:" ‖ purpose)`),
    /// so peppers for client secrets, refresh tokens and recovery codes never reuse the master
    /// key itself and one leaked subkey reveals nothing about the others.
    public func derivedKey(purpose: String) -> [UInt8] {
        var key = secret.copy()
        defer { Sodium.wipe(&key) }
        return Sodium.blake2b(outputLength: 32, key: key, Array("portcullis:\(purpose)".utf8))
    }

    /// A keyed BLAKE2b-256 (base64url) over `message` under the subkey of `purpose`: how a record
    /// kept in the database shows that the master key, not just a database writer, made it.
    public func authenticator(purpose: String, _ message: [UInt8]) -> String {
        var subkey = derivedKey(purpose: purpose)
        defer { Sodium.wipe(&subkey) }
        return Base64URL.encode(Sodium.blake2b(outputLength: 32, key: subkey, message))
    }

    /// Whether `authenticator` is this key's over `message` for `purpose` (constant time).
    public func vouches(for message: [UInt8], purpose: String, authenticator: String) -> Bool {
        SecretComparison.equal(authenticator, self.authenticator(purpose: purpose, message))
    }

    public var description: String { "MasterKey(redacted)" }
}

/// A secret encrypted under the master key; safe to store anywhere.
public struct SealedSecret: Codable, Sendable, Equatable {
    /// 24-byte XChaCha20-Poly1305 nonce, base64url.
    public var nonce: String
    /// Ciphertext with its 16-byte tag, base64url.
    public var ciphertext: String
}

/// Why a key ring or its store could not be used.
public enum KeyRingError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidMasterKey(String)
    /// The master key does not open this record (wrong key, or the record was altered).
    case unsealFailed(keyID: String)
    case corruptRecord(String)
    case noActiveKey
    case storeUnreadable(path: String, reason: String)
    case storeUnwritable(path: String, reason: String)
    case missingMasterKey
    /// A new key pair could not be generated or sealed.
    case keyGenerationFailed(String)

    public var description: String {
        switch self {
        case let .invalidMasterKey(reason): "invalid master key: \(reason)"
        case let .unsealFailed(keyID): "cannot unseal signing key \(keyID): wrong master key, or the record was modified"
        case let .corruptRecord(keyID): "sealed key record \(keyID) is corrupt"
        case .noActiveKey: "the key ring has no active signing key (run `portcullis keys rotate`)"
        case let .storeUnreadable(path, reason): "cannot read key store \(path): \(reason)"
        case let .storeUnwritable(path, reason): "cannot write key store \(path): \(reason)"
        case .missingMasterKey: "no master key: set \(MasterKey.environmentVariable) or pass --master-key-file"
        case let .keyGenerationFailed(reason): "could not generate a signing key: \(reason)"
        }
    }
}
