import Foundation
import Gateway
import Identity

/// The gateway's sign-in pages, answered by the identity service of the same process.
struct IdentitySignIn: BrowserSignIn {
    let service: IdentityService

    func signIn(login: String, password: String, client: SignInClient) async throws(SignInFailure) -> SignInStep {
        do {
            switch try await service.login(login: login, password: password, secondFactor: nil, client: Self.client(client)) {
            case let .authenticated(issued): return .signedIn(Self.session(issued))
            case let .secondFactorRequired(challenge, _): return .secondFactorRequired(challenge: challenge)
            }
        } catch {
            throw Self.failure(error)
        }
    }

    func completeSignIn(challenge: String, code: String, client: SignInClient) async throws(SignInFailure) -> SignedInSession {
        let code = code.filter { !$0.isWhitespace }
        let factor: SecondFactor = code.count == 6 && code.allSatisfy(\.isNumber) ? .totp(code) : .recoveryCode(code)
        do {
            return Self.session(try await service.completeLogin(challenge: challenge, factor, client: Self.client(client)))
        } catch {
            throw Self.failure(error)
        }
    }

    func endSession(id: String) async {
        guard let id = UUID(uuidString: id) else { return }
        _ = try? await service.endSession(id, reason: "logout")
    }

    private static func client(_ client: SignInClient) -> ClientInfo {
        ClientInfo(address: client.address, userAgent: client.userAgent)
    }

    private static func session(_ issued: IssuedSession) -> SignedInSession {
        SignedInSession(
            login: issued.user.login, roles: issued.user.roles, groups: issued.user.groups,
            sessionID: issued.session.id.uuidString.lowercased(), authMethods: issued.session.authMethods,
            mfaAt: issued.session.mfaAt, expiresAt: issued.session.expiresAt)
    }

    private static func failure(_ error: IdentityError) -> SignInFailure {
        switch error {
        case let .throttled(seconds): .throttled(seconds: seconds)
        case .overloaded, .unavailable: .unavailable
        default: .notAccepted
        }
    }
}
