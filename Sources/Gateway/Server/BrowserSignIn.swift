import Foundation

/// What the gateway's sign-in pages ask of the identity service: check a password, then a second
/// factor, and end a session at logout. `portcullis serve` wires the identity service here; the
/// gateway seals the session cookie itself.
public protocol BrowserSignIn: Sendable {
    func signIn(login: String, password: String, client: SignInClient) async throws(SignInFailure) -> SignInStep
    /// `code`: six digits from an authenticator app, or a recovery code.
    func completeSignIn(challenge: String, code: String, client: SignInClient) async throws(SignInFailure) -> SignedInSession
    /// Ends the session at logout; an unknown or already ended session is not an error.
    func endSession(id: String) async
}

/// The browser a sign-in comes from, for throttling and the session record.
public struct SignInClient: Sendable {
    public let address: String
    public let userAgent: String
}

/// Where a correct password leads.
public enum SignInStep: Sendable {
    case signedIn(SignedInSession)
    /// The account has a second factor: the next form carries this challenge.
    case secondFactorRequired(challenge: String)
}

/// A session the identity service opened, as the cookie seals it.
public struct SignedInSession: Sendable {
    public let login: String
    public let roles: [String]
    public let groups: [String]
    /// Lowercased UUID.
    public let sessionID: String
    public let authMethods: [String]
    public let mfaAt: Date?
    /// The session's absolute end.
    public let expiresAt: Date

    public init(login: String, roles: [String], groups: [String], sessionID: String, authMethods: [String], mfaAt: Date?, expiresAt: Date) {
        self.login = login
        self.roles = roles
        self.groups = groups
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
    case throttled(seconds: Int)
    case unavailable
}
