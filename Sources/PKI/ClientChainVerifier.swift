import Foundation
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// Decides whether the client chain presented in an mTLS handshake with the gateway proves a workload
/// identity. The gateway calls it from NIOSSL's custom verification callback, which replaces all of
/// BoringSSL's checks, so everything is checked here: a path to a trust root (RFC 5280, including the
/// intermediate's name constraints), validity at `now` for every certificate in the path, EKU
/// clientAuth on the leaf, exactly one SPIFFE ID inside the trust domain, and revocation of the leaf.
///
/// Revocation covers leaf certificates only; a compromised intermediate is dealt with by replacing
/// the trust roots, not by a serial in the revocation feed.
public struct ClientChainVerifier: Sendable {
    /// The outcome of one handshake's verification.
    public enum Verdict: Sendable, Hashable {
        /// The chain is good. `serial` is `Certificate.SerialNumber.hex` and `sha256` the hex SHA-256 of
        /// the leaf's DER, for audit events.
        case trusted(spiffeID: SPIFFEID, serial: String, sha256: String)
        /// Why the handshake must fail, in words fit for a log line.
        case rejected(String)
    }

    let trustRoots: [Certificate]
    let intermediates: [Certificate]
    let trustDomain: String
    let isRevoked: @Sendable (String) -> Bool

    /// - Parameters:
    ///   - intermediates: issuing CAs to build paths through, besides those the client sends.
    ///   - isRevoked: asked with the leaf's serial as `Certificate.SerialNumber.hex`; it is called on
    ///     every handshake, so it should read an in-memory set kept current by the revocation feed.
    public init(
        trustRoots: [Certificate], intermediates: [Certificate] = [], trustDomain: String,
        isRevoked: @escaping @Sendable (_ serialHex: String) -> Bool
    ) {
        self.trustRoots = trustRoots
        self.intermediates = intermediates
        self.trustDomain = trustDomain
        self.isRevoked = isRevoked
    }

    /// Verifies `chain` (leaf first, as the client sent it) at `now`.
    public func verify(chain: [Certificate], now: Date = Date()) async -> Verdict {
        guard let leaf = chain.first else { return .rejected("the client presented no certificate") }
        var verifier = Verifier(rootCertificates: CertificateStore(trustRoots)) {
            WorkloadClientPolicy(trustDomain: trustDomain, now: now, isRevoked: isRevoked)
            RFC5280Policy(fixedExpiryValidationTime: now)
        }
        let candidates = CertificateStore(intermediates + chain.dropFirst())
        switch await verifier.validate(leaf: leaf, intermediates: candidates) {
        case .validCertificate:
            do {
                return .trusted(
                    spiffeID: try SPIFFEID(certificate: leaf), serial: leaf.serialNumber.hex,
                    sha256: try leaf.sha256Fingerprint())
            } catch {
                return .rejected(error.description)
            }
        case .couldNotValidate(let failures):
            guard !failures.isEmpty else {
                return .rejected(
                    "\(leaf.subject) does not chain to a trusted root "
                        + "(unknown issuer, a signature that does not verify, or an unhandled critical extension)")
            }
            var reasons: [String] = []
            for failure in failures where !reasons.contains(failure.policyFailureReason.description) {
                reasons.append(failure.policyFailureReason.description)
            }
            return .rejected(reasons.joined(separator: "; "))
        }
    }
}

/// The workload-specific checks, ahead of `RFC5280Policy` so that the common refusals (expired,
/// wrong EKU, wrong trust domain, revoked) come with short reasons rather than whole certificates.
struct WorkloadClientPolicy: VerifierPolicy, Sendable {
    /// EKU and SAN are enforced here, so a CA that marks them critical is still understood.
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [
        .X509ExtensionID.extendedKeyUsage, .X509ExtensionID.subjectAlternativeName,
    ]
    let trustDomain: String
    let now: Date
    let isRevoked: @Sendable (String) -> Bool

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        for certificate in chain {
            if now < certificate.notValidBefore {
                return .failsToMeetPolicy(reason: "\(certificate.subject) is not valid before \(certificate.notValidBefore)")
            }
            if now > certificate.notValidAfter {
                return .failsToMeetPolicy(reason: "\(certificate.subject) expired at \(certificate.notValidAfter)")
            }
        }
        let leaf = chain.leaf
        do {
            guard try leaf.extensions.extendedKeyUsage?.contains(.clientAuth) == true else {
                return .failsToMeetPolicy(reason: "\(leaf.subject) is not for client authentication (no EKU clientAuth)")
            }
        } catch {
            return .failsToMeetPolicy(reason: "\(leaf.subject) has a malformed extended key usage: \(error)")
        }
        let id: SPIFFEID
        do {
            id = try SPIFFEID(certificate: leaf)
        } catch {
            return .failsToMeetPolicy(reason: error.description)
        }
        guard id.trustDomain == trustDomain else {
            return .failsToMeetPolicy(reason: PKIError.outsideTrustDomain(spiffeID: id.description, trustDomain: trustDomain).description)
        }
        let serial = leaf.serialNumber.hex
        if isRevoked(serial) {
            return .failsToMeetPolicy(reason: "\(id) certificate \(serial) is revoked")
        }
        return .meetsPolicy
    }
}
