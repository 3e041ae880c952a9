import CSodium
import Foundation

/// Argon2id cost parameters and input limits.
public struct PasswordPolicy: Sendable, Equatable {
    /// Argon2id passes (libsodium `opslimit`).
    public var opsLimit: UInt64
    /// Argon2id memory in bytes (libsodium `memlimit`).
    public var memLimit: Int
    /// Longest accepted password in UTF-8 bytes; Argon2id cost is flat in length, but parsing,
    /// normalisation and transport are not, so unbounded input is a denial-of-service lever.
    public var maxPasswordBytes: Int

    /// libsodium's INTERACTIVE limits (2 passes, 64 MiB): about 0.1 s per hash on a server core.
    public static let interactive = PasswordPolicy(
        opsLimit: UInt64(crypto_pwhash_opslimit_interactive()), memLimit: crypto_pwhash_memlimit_interactive(),
        maxPasswordBytes: 1024)

    /// libsodium's MODERATE limits (3 passes, 256 MiB): about 0.7 s per hash; for deployments
    /// with few logins and memory to spare.
    public static let moderate = PasswordPolicy(
        opsLimit: UInt64(crypto_pwhash_opslimit_moderate()), memLimit: crypto_pwhash_memlimit_moderate(),
        maxPasswordBytes: 1024)

    public init(opsLimit: UInt64, memLimit: Int, maxPasswordBytes: Int = 1024) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
        self.maxPasswordBytes = maxPasswordBytes
    }
}

/// Why a password operation failed. Messages never contain the password or the hash.
public enum PasswordError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLong(limit: Int)
    case empty
    /// libsodium could not allocate the memory Argon2id needs.
    case hashingFailed
    /// The stored hash is not an Argon2id string.
    case malformedHash
    /// Too many hashes queued; retry later.
    case overloaded

    public var description: String {
        switch self {
        case let .tooLong(limit): "password is longer than \(limit) bytes"
        case .empty: "password is empty"
        case .hashingFailed: "Argon2id hashing failed (out of memory?)"
        case .malformedHash: "stored password hash is not an Argon2id string"
        case .overloaded: "too many password hashes in progress; retry later"
        }
    }
}

/// Argon2id password hashing (`crypto_pwhash_str`) run on a dedicated bounded thread pool, so
/// the ~0.1 s, 64 MiB computation never blocks an event loop and concurrent logins cannot
/// exhaust memory (concurrency = pool threads).
public struct PasswordHasher: Sendable {
    public let policy: PasswordPolicy
    private let pool: BlockingWorkPool

    public init(policy: PasswordPolicy = .interactive, pool: BlockingWorkPool) {
        self.policy = policy
        self.pool = pool
    }

    /// An encoded `$argon2id$v=19$m=...,t=...,p=1$salt$hash` string with a random salt.
    public func hash(_ password: String) async throws(PasswordError) -> String {
        let bytes = try checked(password)
        let policy = self.policy
        let result: String? = try await offload {
            var out = [CChar](repeating: 0, count: crypto_pwhash_strbytes())
            guard crypto_pwhash_str(&out, bytes, UInt64(bytes.count), policy.opsLimit, policy.memLimit) == 0 else { return nil }
            return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        guard let result else { throw PasswordError.hashingFailed }
        return result
    }

    /// Constant-time check of `password` against a stored hash, using the parameters in the hash.
    public func verify(_ password: String, against encoded: String) async throws(PasswordError) -> Bool {
        guard encoded.hasPrefix("$argon2id$"), encoded.utf8.count < crypto_pwhash_strbytes() else { throw PasswordError.malformedHash }
        let bytes = try checked(password)
        return try await offload {
            crypto_pwhash_str_verify(encoded, bytes, UInt64(bytes.count)) == 0
        }
    }

    /// True when `encoded` was made with other parameters than the current policy, so the
    /// caller should re-hash the password it has just verified.
    public func needsRehash(_ encoded: String) throws(PasswordError) -> Bool {
        guard encoded.utf8.count < crypto_pwhash_strbytes() else { throw PasswordError.malformedHash }
        switch crypto_pwhash_str_needs_rehash(encoded, policy.opsLimit, policy.memLimit) {
        case 0: return false
        case 1: return true
        default: throw PasswordError.malformedHash
        }
    }

    private func checked(_ password: String) throws(PasswordError) -> [CChar] {
        let count = password.utf8.count
        guard count > 0 else { throw PasswordError.empty }
        guard count <= policy.maxPasswordBytes else { throw PasswordError.tooLong(limit: policy.maxPasswordBytes) }
        return Array(password.utf8CString.dropLast())
    }

    private func offload<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws(PasswordError) -> T {
        guard Sodium.ready else { throw PasswordError.hashingFailed }
        do { return try await pool.run(body) } catch { throw PasswordError.overloaded }
    }
}
