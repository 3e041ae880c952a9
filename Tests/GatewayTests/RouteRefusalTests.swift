import Foundation
import Testing
@testable import Gateway

/// A route's own settings, checked before policy: they hold whatever the policies say
/// (issue 18, item 4: `public: false` was parsed and never enforced).
@Suite struct RouteRefusalTests {
    static func route(public isPublic: Bool = false, certificate: Bool = false, auth: Set<AuthMethod> = Set(AuthMethod.allCases)) -> RouteSettings {
        RouteSettings(id: "shipments", hosts: ["shipments.localhost"], pathPrefix: "/", upstream: URL(string: "http://127.0.0.1:9")!,
                      isPublic: isPublic, authMethods: auth, requiresClientCertificate: certificate)
    }

    static let dana = Principal(kind: .user, name: "dana", method: .token, roles: ["dispatcher"], groups: [], mfa: false,
                                authenticatedAt: Date(), sessionID: nil, spiffeID: nil)
    static let certificate = ClientCertificate(spiffeID: "spiffe://logistics.internal/billing", serial: "0a", sha256: "ff")

    @Test func anonymousCallersAreRefusedOnARouteThatIsNotPublic() {
        #expect(Self.route().refusal(of: .anonymous, certificate: nil) == .anonymousOnPrivateRoute)
        #expect(Self.route(public: true).refusal(of: .anonymous, certificate: nil) == nil)
    }

    @Test func authenticatedCallersPassWhetherOrNotTheRouteIsPublic() {
        #expect(Self.route().refusal(of: Self.dana, certificate: nil) == nil)
        #expect(Self.route(public: true).refusal(of: Self.dana, certificate: nil) == nil)
    }

    @Test func theCertificateRequirementComesFirstThenTheAcceptedMethods() {
        #expect(Self.route(public: true, certificate: true).refusal(of: .anonymous, certificate: nil) == .clientCertificateRequired)
        #expect(Self.route(certificate: true).refusal(of: .anonymous, certificate: Self.certificate) == .anonymousOnPrivateRoute)
        #expect(Self.route(auth: [.mtls]).refusal(of: Self.dana, certificate: nil) == .authMethodNotAccepted(.token))
    }
}
