import Foundation
import Gateway
import Identity

/// The gateway's sign-in pages, answered by the identity service of the same process.
struct IdentitySignIn: BrowserSignIn {
    let service: IdentityService

    func signIn(login: String, password: String, client: SignInClient) async throws(SignInFailure) -> SignInStep {
        do {
            return Self.step(try await service.login(login: login, password: password, secondFactor: nil, client: Self.client(client)))
        } catch {
            throw Self.failure(error)
        }
    }

    func completeSignIn(challenge: String, code: String, client: SignInClient) async throws(SignInFailure) -> SignInStep {
        let code = code.filter { !$0.isWhitespace }
        let factor: SecondFactor = code.count == 6 && code.allSatisfy(\.isNumber) ? .totp(code) : .recoveryCode(code)
        do {
            return Self.step(try await service.completeLogin(challenge: challenge, factor, client: Self.client(client)))
        } catch {
            throw Self.failure(error)
        }
    }

    func completeSignIn(challenge: String, newPassword: String, client: SignInClient) async throws(SignInFailure) -> SignedInSession {
        do {
            return Self.session(try await service.completeLogin(challenge: challenge, newPassword: newPassword, client: Self.client(client)))
        } catch {
            throw Self.failure(error)
        }
    }

    func issueSignOnCode(sessionID: String, login: String, host: String, client: SignInClient) async throws(SignInFailure) -> String {
        guard let id = UUID(uuidString: sessionID) else { throw .notAccepted }
        do {
            return try await service.issueSignOnCode(sessionID: id, login: login, host: host, client: Self.client(client))
        } catch {
            throw Self.failure(error)
        }
    }

    func redeemSignOnCode(_ code: String, host: String, client: SignInClient) async throws(SignInFailure) -> SignedInSession {
        do {
            let issued = try await service.redeemSignOnCode(code, host: host, client: Self.client(client))
            return Self.session(issued.session, login: issued.user.login)
        } catch {
            throw Self.failure(error)
        }
    }

    func endSession(id: String, client: SignInClient) async {
        guard let id = UUID(uuidString: id) else { return }
        _ = try? await service.endSession(id, reason: "sign-out", client: Self.client(client))
    }

    func sessionsSeen(_ ids: [String]) async {
        try? await service.store.touchSessions(ids.compactMap(UUID.init(uuidString:)))
    }

    private static func client(_ client: SignInClient) -> ClientInfo {
        ClientInfo(address: client.address, userAgent: client.userAgent)
    }

    private static func step(_ result: LoginResult) -> SignInStep {
        switch result {
        case let .authenticated(issued): .signedIn(session(issued))
        case let .secondFactorRequired(challenge, _): .secondFactorRequired(challenge: challenge)
        case let .passwordChangeRequired(challenge, _): .newPasswordRequired(challenge: challenge)
        }
    }

    private static func session(_ issued: IssuedSession) -> SignedInSession {
        session(issued.session, login: issued.user.login)
    }

    private static func session(_ session: Session, login: String) -> SignedInSession {
        SignedInSession(
            login: login, sessionID: session.id.uuidString.lowercased(), authMethods: session.authMethods,
            mfaAt: session.mfaAt, expiresAt: session.expiresAt)
    }

    private static func failure(_ error: IdentityError) -> SignInFailure {
        switch error {
        case let .throttled(seconds): .throttled(seconds: seconds)
        case .overloaded, .unavailable: .unavailable
        case .invalidInput: .passwordRejected(error.description.replacingOccurrences(of: "invalid input: ", with: ""))
        default: .notAccepted
        }
    }
}
