import Foundation
import Tokens

/// Single sign-on across route hosts: the sign-in host issues a one-time code for the browser's
/// identity session and one route host; that host redeems it and sets its own cookie for the same
/// session. Codes live in PostgreSQL so any gateway replica can redeem what another issued.
extension IdentityService {
    /// Long enough for a redirect to complete, short enough that a code in a log or a browser
    /// history is dead by the time anyone reads it.
    public static let signOnCodeLifetime: TimeInterval = 60

    /// A one-time code handing the open session `sessionID` (of `login`) to `host`; refused when
    /// the session has ended or its account is no longer active.
    public func issueSignOnCode(sessionID: UUID, login: String, host: String, client: ClientInfo) async throws(IdentityError) -> String {
        let code = OpaqueSecret.generate(prefix: "pco_")
        let principal = "User::\"\(login)\""
        guard
            try await store.createSignOnCode(
                hash: secretHasher.digest(code), sessionID: sessionID, host: host, lifetime: Self.signOnCodeLifetime)
        else {
            recordAuthentication(
                "sso.code.issue", principal: principal, outcome: "failure", client: client,
                details: "session \(sessionID.uuidString.lowercased()) is not open")
            throw .invalidCredentials
        }
        recordAuthentication(
            "sso.code.issue", principal: principal, outcome: "success", client: client,
            details: "session \(sessionID.uuidString.lowercased()) for \(host)")
        return code
    }

    /// Uses a code up on `host`: the session it hands over, or `invalidCredentials` (replayed,
    /// forged, expired, issued for another host, or its session ended), each audited with why.
    public func redeemSignOnCode(_ code: String, host: String, client: ClientInfo) async throws(IdentityError) -> IssuedSignOn {
        let why: String
        switch try await store.redeemSignOnCode(hash: secretHasher.digest(code), host: host) {
        case let .redeemed(session):
            let user = try await store.requireUser(login: session.login)
            recordAuthentication(
                "sso.code.redeem", principal: "User::\"\(user.login)\"", outcome: "success", client: client,
                details: "session \(session.id.uuidString.lowercased()) on \(host)")
            return IssuedSignOn(session: session, user: user)
        case .unknown: why = "unknown or already used"
        case .expired: why = "expired"
        case let .otherHost(issuedFor): why = "issued for \(issuedFor), presented on \(host)"
        case .sessionEnded: why = "its session has ended"
        }
        recordAuthentication("sso.code.redeem", principal: nil, outcome: "failure", client: client, details: "code \(why)")
        throw .invalidCredentials
    }
}

/// A session handed to a route host by a sign-on code.
public struct IssuedSignOn: Sendable {
    public let session: Session
    public let user: User
}
