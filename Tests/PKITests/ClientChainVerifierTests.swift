import Crypto
import Foundation
import Synchronization
import Testing
import X509

@testable import PKI

@Suite struct ClientChainVerifierTests {
    let authority: CertificateAuthority
    let billing = try! SPIFFEID("spiffe://logistics.internal/billing")
    let key = Certificate.PrivateKey(P256.Signing.PrivateKey())

    init() throws {
        authority = try CertificateAuthority.create(trustDomain: "logistics.internal").authority
    }

    func verifier(revoked: Set<String> = []) -> ClientChainVerifier {
        ClientChainVerifier(
            trustRoots: [authority.root], intermediates: [authority.intermediate],
            trustDomain: "logistics.internal", isRevoked: { revoked.contains($0) })
    }

    func rejection(_ verdict: ClientChainVerifier.Verdict) -> String? {
        if case .rejected(let reason) = verdict { reason } else { nil }
    }

    @Test func trustsAWorkloadChainAndReportsItsIdentity() async throws {
        let leaf = try authority.issue(spiffeID: billing, publicKey: key.publicKey)
        let verdict = await verifier().verify(chain: [leaf, authority.intermediate], now: Date())
        #expect(verdict == .trusted(spiffeID: billing, serial: leaf.serialNumber.hex, sha256: try leaf.sha256Fingerprint()))
        #expect(try leaf.sha256Fingerprint().count == 64)

        // The intermediate may come from the client alone.
        let rootsOnly = ClientChainVerifier(trustRoots: [authority.root], trustDomain: "logistics.internal", isRevoked: { _ in false })
        #expect(await rootsOnly.verify(chain: [leaf, authority.intermediate], now: Date()) == verdict)
        #expect(rejection(await rootsOnly.verify(chain: [leaf], now: Date())) != nil)
    }

    @Test func rejectsExpiredAndNotYetValidCertificates() async throws {
        let now = Date()
        let leaf = try authority.issue(spiffeID: billing, publicKey: key.publicKey, lifetime: 600, now: now)
        let expired = try #require(rejection(await verifier().verify(chain: [leaf], now: now + 601)))
        #expect(expired.contains("expired"), "\(expired)")
        let early = try #require(rejection(await verifier().verify(chain: [leaf], now: now - 3600)))
        #expect(early.contains("not valid before"), "\(early)")
    }

    @Test func rejectsAChainSignedByAnotherCA() async throws {
        // Same trust domain and the very same names, different keys.
        let (stranger, _) = try CertificateAuthority.create(trustDomain: "logistics.internal")
        let leaf = try stranger.issue(spiffeID: billing, publicKey: key.publicKey)
        let reason = try #require(rejection(await verifier().verify(chain: [leaf, stranger.intermediate], now: Date())))
        #expect(reason.contains("does not chain to a trusted root"), "\(reason)")
    }

    @Test func rejectsAnotherTrustDomainEvenFromATrustedRoot() async throws {
        let (other, _) = try CertificateAuthority.create(trustDomain: "other.internal")
        let leaf = try other.issue(spiffeID: try SPIFFEID("spiffe://other.internal/billing"), publicKey: key.publicKey)
        let both = ClientChainVerifier(
            trustRoots: [authority.root, other.root], intermediates: [authority.intermediate, other.intermediate],
            trustDomain: "logistics.internal", isRevoked: { _ in false })
        let reason = try #require(rejection(await both.verify(chain: [leaf], now: Date())))
        #expect(reason.contains("outside the trust domain logistics.internal"), "\(reason)")

        // Our own intermediate cannot vouch for another domain either: its name constraints forbid it.
        let forged = try authority.forgeLeaf(names: [.uniformResourceIdentifier("spiffe://other.internal/billing")], key: key)
        #expect(rejection(await verifier().verify(chain: [forged], now: Date())) != nil)
    }

    @Test func rejectsARevokedCertificate() async throws {
        let leaf = try authority.issue(spiffeID: billing, publicKey: key.publicKey)
        let revocations = Mutex<Set<String>>([])
        let live = ClientChainVerifier(
            trustRoots: [authority.root], intermediates: [authority.intermediate],
            trustDomain: "logistics.internal", isRevoked: { serial in revocations.withLock { $0.contains(serial) } })
        #expect(rejection(await live.verify(chain: [leaf], now: Date())) == nil)
        revocations.withLock { _ = $0.insert(leaf.serialNumber.hex) }
        let reason = try #require(rejection(await live.verify(chain: [leaf], now: Date())))
        #expect(reason.contains("revoked") && reason.contains(leaf.serialNumber.hex), "\(reason)")
    }

    @Test func rejectsALeafWithoutClientAuth() async throws {
        let serverOnly = try authority.forgeLeaf(names: [.uniformResourceIdentifier(billing.description)], usages: [.serverAuth], key: key)
        let reason = try #require(rejection(await verifier().verify(chain: [serverOnly], now: Date())))
        #expect(reason.contains("clientAuth"), "\(reason)")
    }

    @Test func rejectsLeavesThatAreNotExactlyOneSPIFFEID() async throws {
        let twoIDs = try authority.forgeLeaf(
            names: [
                .uniformResourceIdentifier(billing.description),
                .uniformResourceIdentifier("spiffe://logistics.internal/admin"),
            ], key: key)
        let reason = try #require(rejection(await verifier().verify(chain: [twoIDs], now: Date())))
        #expect(reason.contains("2 URI SANs"), "\(reason)")
        let dnsOnly = try authority.forgeLeaf(names: [.dnsName("billing.internal")], key: key)
        #expect(rejection(await verifier().verify(chain: [dnsOnly], now: Date()))?.contains("0 URI SANs") == true)
        let notSPIFFE = try authority.forgeLeaf(names: [.uniformResourceIdentifier("https://logistics.internal/billing")], key: key)
        #expect(rejection(await verifier().verify(chain: [notSPIFFE], now: Date())) != nil)
        #expect(rejection(await verifier().verify(chain: [], now: Date())) == "the client presented no certificate")
        // The intermediate itself is no client identity.
        #expect(rejection(await verifier().verify(chain: [authority.intermediate], now: Date())) != nil)
    }
}
