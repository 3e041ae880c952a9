import AccessModel
import Crypto
import Foundation
import PKI
import SwiftASN1
import Testing
import X509

@testable import Gateway

/// A route's own settings, checked before policy: they hold whatever the policies say
/// (issue 18, item 4: `public: false` was parsed and never enforced).
@Suite struct RouteRefusalTests {
    static func route(public isPublic: Bool = false, certificate: Bool = false, auth: Set<AuthMethod> = Set(AuthMethod.allCases)) -> RouteSettings {
        RouteSettings(
            id: "shipments", hosts: ["shipments.localhost"], pathPrefix: "/", upstream: URL(string: "http://127.0.0.1:9")!,
            isPublic: isPublic, authMethods: auth, requiresClientCertificate: certificate)
    }

    static let dana = Principal(
        kind: .user, name: "dana", method: .token, roles: ["dispatcher"], groups: [], mfa: false,
        authenticatedAt: Date(), sessionID: nil, certificate: nil)
    /// A real certificate from the internal CA.
    static let certificate: ClientCertificate = {
        let authority = try! CertificateAuthority.create(trustDomain: "logistics.internal").authority
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let leaf = try! authority.issue(spiffeID: try! SPIFFEID("spiffe://logistics.internal/billing"), publicKey: key.publicKey)
        var serializer = DER.Serializer()
        try! serializer.serialize(leaf)
        return ClientCertificate(der: serializer.serializedBytes)!
    }()

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
