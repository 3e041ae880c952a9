import CSodium
import Foundation
import Synchronization

/// Remembers tokens that already passed full verification, so a token seen again costs one
/// keyed BLAKE2b hash and a dictionary lookup instead of a signature check.
///
/// Entries never outlive the token's `exp`. Revocation (`invalidate(sessionID:)`,
/// `invalidate(tokenID:)`) removes matching entries, refuses to re-cache revoked ids until
/// `revocationMemory` has passed, and bumps an epoch so a verification that was already in
/// flight when the revocation happened cannot insert its result afterwards. The cache is split
/// into independently locked shards so concurrent readers rarely contend.
///
/// One cache belongs to one verifier (one claims policy): cached claims were validated by it.
public final class VerifiedTokenCache: Sendable {
    struct Digest: Hashable {
        let a: UInt64, b: UInt64, c: UInt64, d: UInt64
    }

    private struct Entry {
        let claims: Claims
        let expiresAt: Date
    }

    private final class Shard: Sendable {
        let entries = Mutex<[Digest: Entry]>([:])
    }

    /// The revocation epoch observed before verification started; see `verified(_:now:verify:)`.
    public struct Ticket: Sendable { fileprivate let epoch: UInt64 }

    private let shards: [Shard]
    private let capacityPerShard: Int
    private let hashKey: [UInt8]
    private let epoch = Atomic<UInt64>(0)
    private let hitCount = Atomic<Int>(0)
    private let missCount = Atomic<Int>(0)
    private let revoked = Mutex<[String: Date]>([:])
    /// How long a revoked session or token id is remembered (at least the longest token lifetime).
    public let revocationMemory: TimeInterval

    /// - Parameters:
    ///   - capacity: maximum number of cached tokens across all shards.
    ///   - shards: number of independently locked partitions.
    ///   - revocationMemory: should be at least the maximum token lifetime.
    public init(capacity: Int = 100_000, shards: Int = 16, revocationMemory: TimeInterval = 3600) {
        let count = max(1, shards)
        self.shards = (0..<count).map { _ in Shard() }
        capacityPerShard = max(1, capacity / count)
        hashKey = Sodium.randomBytes(32)
        self.revocationMemory = revocationMemory
    }

    /// Keyed BLAKE2b-256 of the token text. The per-process random key stops anyone from
    /// crafting tokens that collide in the table.
    func digest(_ token: String) -> Digest {
        var token = token
        return token.withUTF8 { text in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 4) { words in
                let out = UnsafeMutableRawPointer(words.baseAddress!).assumingMemoryBound(to: UInt8.self)
                _ = crypto_generichash(out, 32, text.baseAddress, UInt64(text.count), hashKey, hashKey.count)
                return Digest(a: words[0], b: words[1], c: words[2], d: words[3])
            }
        }
    }

    private func shard(for digest: Digest) -> Shard { shards[Int(digest.a % UInt64(shards.count))] }

    /// Cached claims for `token`, or nil if absent or expired at `now`.
    public func lookup(_ token: String, now: Date) -> Claims? {
        let key = digest(token)
        return shard(for: key).entries.withLock { entries -> Claims? in
            guard let entry = entries[key] else { return nil }
            guard entry.expiresAt > now else {
                entries[key] = nil
                return nil
            }
            return entry.claims
        }
    }

    /// Take a ticket before verifying a token you intend to `insert`.
    public func ticket() -> Ticket { Ticket(epoch: epoch.load(ordering: .acquiring)) }

    /// Caches verified claims unless they expire by `now`, their session or token id is
    /// revoked, or any revocation happened since `ticket` was taken.
    public func insert(_ token: String, claims: Claims, ticket: Ticket, now: Date) {
        guard claims.expiresAt > now else { return }
        let isRevoked = revoked.withLock { list in
            list["t:" + claims.tokenID].map { $0 > now } ?? false
                || claims.sessionID.flatMap { list["s:" + $0] }.map { $0 > now } ?? false
        }
        guard !isRevoked else { return }
        let key = digest(token)
        shard(for: key).entries.withLock { entries in
            guard epoch.load(ordering: .acquiring) == ticket.epoch else { return }
            if entries.count >= capacityPerShard { makeRoom(&entries, now: now) }
            entries[key] = Entry(claims: claims, expiresAt: claims.expiresAt)
        }
    }

    /// Returns cached claims, or runs `verify` (signature and policy) and caches its result.
    public func verified(
        _ token: String, now: Date,
        verify: (String) throws(TokenError) -> Claims
    ) throws(TokenError) -> Claims {
        if let claims = lookup(token, now: now) {
            hitCount.wrappingAdd(1, ordering: .relaxed)
            return claims
        }
        missCount.wrappingAdd(1, ordering: .relaxed)
        let ticket = ticket()
        let claims = try verify(token)
        insert(token, claims: claims, ticket: ticket, now: now)
        return claims
    }

    /// Drops every cached token of a session and refuses to cache it again.
    public func invalidate(sessionID: String, now: Date) {
        revoke("s:" + sessionID, now: now) { $0.sessionID == sessionID }
    }

    /// Drops a cached token by its `jti` and refuses to cache it again.
    public func invalidate(tokenID: String, now: Date) {
        revoke("t:" + tokenID, now: now) { $0.tokenID == tokenID }
    }

    /// Empties the cache (e.g. after a key is withdrawn).
    public func removeAll() {
        epoch.add(1, ordering: .acquiringAndReleasing)
        for shard in shards { shard.entries.withLock { $0.removeAll() } }
    }

    /// Tokens answered from the cache and tokens that needed full verification, since start
    /// (for metrics).
    public var lookups: (hits: Int, misses: Int) { (hitCount.load(ordering: .relaxed), missCount.load(ordering: .relaxed)) }

    /// Number of cached entries (for metrics).
    public var count: Int { shards.reduce(0) { $0 + $1.entries.withLock(\.count) } }

    private func revoke(_ id: String, now: Date, matching: (Claims) -> Bool) {
        revoked.withLock { list in
            list = list.filter { $0.value > now }
            list[id] = now.addingTimeInterval(revocationMemory)
        }
        epoch.add(1, ordering: .acquiringAndReleasing)
        for shard in shards {
            shard.entries.withLock { entries in entries = entries.filter { !matching($0.value.claims) } }
        }
    }

    /// Called when a shard is full: drop expired entries; if that frees less than an eighth,
    /// drop arbitrary entries (hash order) down to seven eighths, so sweeps stay amortised.
    private func makeRoom(_ entries: inout [Digest: Entry], now: Date) {
        entries = entries.filter { $0.value.expiresAt > now }
        let target = capacityPerShard - max(1, capacityPerShard / 8)
        if entries.count > target {
            for key in Array(entries.keys.prefix(entries.count - target)) { entries[key] = nil }
        }
    }
}
