import Foundation

/// What the gateway's sign-in pages ask of the identity service: check a password, then a second
/// factor or the new password a one-time password requires; hand a session to a route host with
/// a one-time code; end a session at sign-out. `portcullis serve` wires the identity service
/// here; the gateway seals the session cookies itself.
public protocol BrowserSignIn: Sendable {
    func signIn(login: String, password: String, client: SignInClient) async throws(SignInFailure) -> SignInStep
    /// `code`: six digits from an authenticator app, or a recovery code.
    func completeSignIn(challenge: String, code: String, client: SignInClient) async throws(SignInFailure) -> SignInStep
    /// The person's new password after a one-time password; every earlier session ends.
    func completeSignIn(challenge: String, newPassword: String, client: SignInClient) async throws(SignInFailure) -> SignedInSession
    /// A code (single use, short lived) that hands the open session `sessionID` (of `login`) to
    /// `host` only.
    func issueSignOnCode(sessionID: String, login: String, host: String, client: SignInClient) async throws(SignInFailure) -> String
    /// Uses a code up on `host`; refused when replayed, forged, expired, issued for another host,
    /// or when its session has ended.
    func redeemSignOnCode(_ code: String, host: String, client: SignInClient) async throws(SignInFailure) -> SignedInSession
    /// Ends the session at sign-out (on every host and every gateway); an unknown or already
    /// ended session is not an error.
    func endSession(id: String, client: SignInClient) async
    /// Notes that these sessions (lower-case UUIDs) carried requests recently: their "last seen".
    func sessionsSeen(_ ids: [String]) async
}

/// The browser a sign-in comes from, for throttling and the session record.
public struct SignInClient: Sendable {
    public let address: String
    public let userAgent: String
}

/// Where a correct password (or code) leads.
public enum SignInStep: Sendable {
    case signedIn(SignedInSession)
    /// The account has a second factor: the next form carries this challenge.
    case secondFactorRequired(challenge: String)
    /// The password was a one-time password: the next form asks for a new one.
    case newPasswordRequired(challenge: String)
}

/// An identity session as the cookies carry it: who, which session, how they signed in. Roles
/// and groups are not part of it: every request reads them from the identity store's current
/// state, so a change reaches open sessions at once.
public struct SignedInSession: Sendable {
    public let login: String
    /// Lowercased UUID.
    public let sessionID: String
    public let authMethods: [String]
    public let mfaAt: Date?
    /// The session's absolute end.
    public let expiresAt: Date

    public init(login: String, sessionID: String, authMethods: [String], mfaAt: Date?, expiresAt: Date) {
        self.login = login
        self.sessionID = sessionID
        self.authMethods = authMethods
        self.mfaAt = mfaAt
        self.expiresAt = expiresAt
    }
}

/// Why a sign-in step did not succeed, as the page tells the person.
public enum SignInFailure: Error, Sendable, Equatable {
    /// Wrong login, password or code; never says which.
    case notAccepted
    /// A new password that does not meet the policy, with what is wrong.
    case passwordRejected(String)
    case throttled(seconds: Int)
    case unavailable
}
