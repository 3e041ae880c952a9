import Foundation

/// A sign-in that passed its password and waits for one more step: a second factor, or the new
/// password a one-time password requires. Kept server-side behind an opaque challenge.
struct PendingSignIn: Sendable {
    /// What the challenge is for; a challenge of one kind never completes the other.
    enum Step: Sendable {
        case secondFactor
        /// After the factors in `authMethods` (and the second factor's time, if any) succeeded.
        case passwordChange(authMethods: [String], mfaAt: Date?)

        var purpose: String {
            switch self {
            case .secondFactor: "second_factor"
            case .passwordChange: "password_change"
            }
        }

        var authMethods: [String] {
            if case let .passwordChange(methods, _) = self { return methods }
            return []
        }

        var mfaAt: Date? {
            if case let .passwordChange(_, mfaAt) = self { return mfaAt }
            return nil
        }
    }

    let userID: UUID
    let authMethods: [String]
    let mfaAt: Date?
}
