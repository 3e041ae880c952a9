import Foundation
import Synchronization
import Tokens

/// What an upstream requires of the gateway's `X-Portcullis-Assertion`.
public struct AssertionRequirements: Sendable {
    /// `iss` the gateway writes (`gateway` assertion issuer, `portcullis-gateway` by default).
    public var issuer: String
    /// `aud`: the id of the gateway route that leads here, so an assertion minted for another
    /// upstream is refused.
    public var audience: String
    /// Tolerated clock disagreement with the gateway.
    public var clockSkew: TimeInterval
    /// Longest accepted `exp - iat` (the gateway mints 60-second assertions).
    public var maxLifetime: TimeInterval

    public init(issuer: String = "portcullis-gateway", audience: String, clockSkew: TimeInterval = 30, maxLifetime: TimeInterval = 300) {
        self.issuer = issuer
        self.audience = audience
        self.clockSkew = clockSkew
        self.maxLifetime = maxLifetime
    }
}

/// Why a request's assertion was refused. Every case but `keysUnavailable` is the caller's
/// problem (401); `keysUnavailable` means this upstream cannot verify anything yet (503).
public enum AssertionRejection: Error, Equatable, Sendable, CustomStringConvertible {
    case missing
    case duplicated
    case invalid(TokenError)
    case requestMismatch(assertedFor: String, received: String)
    case replayed
    case keysUnavailable(KeySetError)

    /// Stable code for the JSON body.
    public var code: String {
        switch self {
        case .missing: "missing_assertion"
        case .duplicated: "duplicate_assertion"
        case .invalid(.unknownKeyID): "unknown_key"
        case .invalid: "invalid_assertion"
        case .requestMismatch: "assertion_request_mismatch"
        case .replayed: "assertion_replayed"
        case .keysUnavailable: "keys_unavailable"
        }
    }

    public var description: String {
        switch self {
        case .missing: "no X-Portcullis-Assertion header: requests must come through the Portcullis gateway"
        case .duplicated: "more than one X-Portcullis-Assertion header"
        case let .invalid(error): "X-Portcullis-Assertion refused: \(error)"
        case let .requestMismatch(asserted, received):
            "the assertion was minted for \(asserted), not for \(received)"
        case .replayed: "this assertion was already used (the gateway mints one per request)"
        case let .keysUnavailable(error): "the gateway's keys cannot be loaded, so no request can be verified: \(error)"
        }
    }
}

/// Verifies the gateway's identity assertion for one request. The JWT work (EdDSA signature,
/// header rules, `iss`/`aud`/`exp`/`nbf`/`iat`) is the Tokens module's `JWTVerifier`, the one the
/// identity service uses; this type adds what only the receiving upstream can check: that the
/// assertion was minted for the method and path it arrived with, and that it is used once.
public final class AssertionVerifier: Sendable {
    private let keySet: GatewayKeySet
    private let requirements: AssertionRequirements
    private let seen = ReplayGuard()

    public init(keySet: GatewayKeySet, requirements: AssertionRequirements) {
        self.keySet = keySet
        self.requirements = requirements
    }

    /// - Parameters:
    ///   - headerValues: every `X-Portcullis-Assertion` field of the request.
    ///   - method: the request's method as received.
    ///   - path: the request's path as received (percent-encoded, without the query); decoded
    ///     once here, as the gateway's canonical path is.
    public func verify(headerValues: [String], method: String, path: String, now: Date = Date()) async throws(AssertionRejection) -> Claims {
        guard let token = headerValues.first else { throw .missing }
        guard headerValues.count == 1 else { throw .duplicated }
        let claims = try await verifiedClaims(token, now: now)
        let received = method + " " + (path.removingPercentEncoding ?? "(undecodable path)")
        let asserted = (claims.httpMethod ?? "(no method)") + " " + (claims.httpPath ?? "(no path)")
        guard asserted == received else { throw .requestMismatch(assertedFor: asserted, received: received) }
        guard seen.admit(claims.tokenID, expiresAt: claims.expiresAt + requirements.clockSkew, now: now) else { throw .replayed }
        return claims
    }

    /// The JWT checks, with one refetch of the key set when the token names an unknown key.
    private func verifiedClaims(_ token: String, now: Date) async throws(AssertionRejection) -> Claims {
        let policy = ClaimsPolicy(
            issuers: [requirements.issuer], audiences: [requirements.audience],
            clockSkew: requirements.clockSkew, maxLifetime: requirements.maxLifetime)
        let keys: VerificationKeys
        do { keys = try await keySet.keys() } catch { throw .keysUnavailable(error) }
        do {
            return try JWTVerifier(keys: keys, policy: policy).verify(token, now: now)
        } catch {
            guard case .unknownKeyID = error else { throw .invalid(error) }
        }
        let refreshed: VerificationKeys
        do { refreshed = try await keySet.keysAfterUnknownKeyID() } catch { throw .keysUnavailable(error) }
        do { return try JWTVerifier(keys: refreshed, policy: policy).verify(token, now: now) } catch { throw .invalid(error) }
    }
}

/// Assertion ids (`jti`, the gateway's request id) already accepted, kept until the assertion
/// would have expired anyway: one process's memory, so each replica refuses its own replays.
final class ReplayGuard: Sendable {
    private let state = Mutex<(seen: [String: Date], nextSweep: Date)>(([:], .distantPast))

    /// Records `id`; false if it was recorded before and has not expired.
    func admit(_ id: String, expiresAt: Date, now: Date) -> Bool {
        state.withLock { state in
            if now >= state.nextSweep {
                state.seen = state.seen.filter { $0.value > now }
                state.nextSweep = now + 10
            }
            if let until = state.seen[id], until > now { return false }
            state.seen[id] = expiresAt
            return true
        }
    }
}
