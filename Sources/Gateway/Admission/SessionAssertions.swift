import Foundation
import Synchronization

/// Signed assertions of `per_session` routes, reused while at least half their lifetime is left.
///
/// A reused assertion must say exactly what a fresh one would: the key is everything its claims
/// are made of (route, principal, session, roles, groups, authentication method, certificate)
/// and the signing key, so a change of roles, a new session or a key rotation mints a new one.
final class SessionAssertions: Sendable {
    struct Key: Hashable, Sendable {
        let route: String
        let kind: Principal.Kind
        let name: String
        let sessionID: String?
        let method: String?
        let roles: [String]
        let groups: [String]
        let thumbprint: String?
        let keyID: String
    }

    private struct Entry {
        let assertion: String
        let reusableUntil: Date
    }

    /// Principals with an assertion in reuse at once; beyond it, stale entries go, then all.
    static let capacity = 10_000
    private let entries = Mutex<[Key: Entry]>([:])

    /// The assertion for `key`, minted by `mint` when none is reusable at `now`.
    func assertion(for key: Key, now: Date, lifetime: TimeInterval, mint: () throws -> String) rethrows -> String {
        if let entry = entries.withLock({ $0[key] }), now < entry.reusableUntil { return entry.assertion }
        let assertion = try mint()
        let entry = Entry(assertion: assertion, reusableUntil: now + lifetime / 2)
        entries.withLock { entries in
            if entries.count >= Self.capacity {
                entries = entries.filter { now < $0.value.reusableUntil }
                if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = entry
        }
        return assertion
    }
}
