import CSodium

/// Thin, typed wrappers over the libsodium primitives this module uses.
///
/// Every public entry point of the module that touches libsodium goes through `Sodium.ready`
/// first, so `sodium_init` has run exactly once (it is thread-safe and idempotent).
enum Sodium {
    /// `sodium_init` result, evaluated once; a negative value means libsodium is unusable.
    static let ready: Bool = sodium_init() >= 0

    /// Fails closed if libsodium could not initialise (no usable random source).
    static func ensureReady() throws(TokenError) {
        guard ready else { throw TokenError.cryptoUnavailable }
    }

    /// Cryptographically secure random bytes from `randombytes_buf`.
    static func randomBytes(_ count: Int) -> [UInt8] {
        precondition(ready, "libsodium failed to initialise")
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return out
    }

    /// BLAKE2b with output length `outputLength` (16...64), optionally keyed, over the
    /// concatenation of `parts` (streamed, so callers need not build a joined buffer).
    static func blake2b(outputLength: Int, key: [UInt8]? = nil, _ parts: [UInt8]...) -> [UInt8] {
        blake2b(outputLength: outputLength, key: key, parts: parts)
    }

    static func blake2b(outputLength: Int, key: [UInt8]?, parts: [[UInt8]]) -> [UInt8] {
        // The state struct is 64-byte aligned in C and imports as opaque, so allocate it ourselves.
        let stateSize = crypto_generichash_statebytes()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: stateSize, alignment: 64)
        defer {
            sodium_memzero(raw, stateSize)
            raw.deallocate()
        }
        let state = OpaquePointer(raw)
        var out = [UInt8](repeating: 0, count: outputLength)
        let initResult: Int32
        if let key {
            initResult = crypto_generichash_init(state, key, key.count, outputLength)
        } else {
            initResult = crypto_generichash_init(state, nil, 0, outputLength)
        }
        precondition(initResult == 0, "BLAKE2b parameters out of range")
        for part in parts {
            _ = crypto_generichash_update(state, part, UInt64(part.count))
        }
        _ = crypto_generichash_final(state, &out, outputLength)
        return out
    }

    /// Constant-time equality; unequal lengths are unequal (lengths are public).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return sodium_memcmp(a, b, a.count) == 0
    }

    /// Overwrites a buffer that held secret material.
    static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { sodium_memzero(base, buffer.count) }
        }
    }
}
