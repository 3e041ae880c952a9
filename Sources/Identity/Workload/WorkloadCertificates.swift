import Audit
import Foundation
import PKI
import Synchronization
import Tokens
import X509

/// How a caller of `POST /v1/certs/sign` proves it may have a certificate for a service.
public enum WorkloadCredential: Sendable {
    /// A one-time join token created by an operator (`portcullis service join-token`): first issuance.
    case joinToken(String)
    /// The gateway's `X-Portcullis-Assertion` for a request it authenticated with the service's
    /// current client certificate: renewal. The gateway verified the chain to the internal CA, the
    /// validity period, the trust domain, that the serial is not revoked, and that the SPIFFE ID is
    /// bound to an active service account; the assertion names the certificate, which the store
    /// checks again against its records (validity, owner, revoked lineage).
    case gatewayAssertion(String)
}

/// The Workload API's certificate authority: signs CSRs for service accounts and publishes the CRL.
///
/// The SPIFFE ID of every certificate comes from the service account's binding in PostgreSQL,
/// never from the CSR; a CSR that asks for any other name is refused. Each issuance is recorded
/// (`identity_issued_certificates`) in the same transaction that checks its grant, and audited.
public struct WorkloadCertificates: Sendable {
    public let authority: CertificateAuthority
    let identity: IdentityService
    private let crlCache = CRLCache()

    public init(identity: IdentityService, authority: CertificateAuthority) {
        self.identity = identity
        self.authority = authority
    }

    var settings: WorkloadSettings { identity.settings.workload }

    /// The path the gateway's assertion must have been minted for.
    public static let signPath = "/v1/certs/sign"

    /// Signs `csr` for the service the credential names and returns the chain a TLS client
    /// presents: the leaf, then the intermediate.
    public func sign(
        _ csr: CertificateSigningRequest, credential: WorkloadCredential, client: ClientInfo,
        now: Date = Date()
    ) async throws(WorkloadError) -> [Certificate] {
        let method = if case .joinToken = credential { "join_token" } else { "mtls" }
        do {
            // The proof of possession first: nothing else is looked at for a request whose
            // sender does not hold the key it wants certified.
            guard csr.publicKey.isValidSignature(csr.signature, for: csr) else { throw WorkloadError.invalidCSRSignature }
            let requested: [String]
            do { requested = try csr.requestedNames() } catch { throw WorkloadError.malformedRequest(error.description) }
            let grant: IssuanceGrant
            switch credential {
            case let .joinToken(token):
                guard token.hasPrefix("pcj_") else { throw WorkloadError.invalidJoinToken }
                grant = .joinToken(hash: identity.secretHasher.digest(token))
            case let .gatewayAssertion(assertion):
                let verified: GatewayAssertion
                let presented: CertificateDigest
                do {
                    verified = try GatewayAssertion(
                        assertion, method: "POST", path: Self.signPath, keys: identity.keys.verificationKeys,
                        settings: settings, now: now)
                    presented = try verified.certificateOnly()
                } catch .certificateNotNamed {
                    throw WorkloadError.renewalRefused(.notOnRecord)
                } catch {
                    throw WorkloadError.invalidAssertion(error.description)
                }
                grant = .renewal(service: verified.subject, requestID: verified.requestID, presented: presented.hex)
            }
            let authority = self.authority
            let lifetime = Duration.milliseconds(Int64(settings.certificateLifetime * 1000))
            let (service, chain) = try await identity.store.issueCertificate(grant, now: now) { service in
                let bound = try SPIFFEID(service.spiffeID ?? "")
                let foreign = requested.filter { $0 != "uri:\(bound)" }
                guard foreign.isEmpty else { throw WorkloadError.namesNotBound(requested: foreign, bound: bound.description) }
                do {
                    return try authority.issue(csr: csr, spiffeID: bound, ttl: lifetime, now: now)
                } catch {
                    throw Self.translate(error, service: service.name)
                }
            }
            let leaf = chain[0]
            record(
                principal: "Service::\"\(service.name)\"", method: method, target: service.spiffeID, client: client, outcome: "success",
                details: [
                    "serial": leaf.serialNumber.hex, "not_after": ISO8601DateFormatter().string(from: leaf.notValidAfter),
                    "grant": method == "mtls" ? "renewal" : "join_token",
                ])
            return chain
        } catch {
            let failure = error as? WorkloadError ?? .signingFailed("\(error)")
            record(principal: nil, method: method, target: nil, client: client, outcome: "failure", details: ["reason": failure.description])
            throw failure
        }
    }

    private static func translate(_ error: any Error, service: String) -> WorkloadError {
        switch error as? PKIError {
        case .invalidCSRSignature?: .invalidCSRSignature
        case let .invalidCSR(reason)?: .malformedRequest(reason)
        case let .outsideTrustDomain(id, domain)?:
            .serviceNotEligible("service account '\(service)' is bound to \(id), outside the CA's trust domain \(domain)")
        case let other?: .signingFailed(other.description)
        case nil: .signingFailed("\(error)")
        }
    }

    /// The current CRL, signed by the intermediate. A new one (with the next cRLNumber) is signed
    /// when the revocation list changed or half of the previous one's validity has passed;
    /// otherwise the cached one is served, so fetching the CRL costs no signature.
    public func revocationList(now: Date = Date()) async throws(WorkloadError) -> CertificateRevocationList {
        let revoked = try await identity.store.revokedCertificates()
        let key = revoked.map { "\($0.serialNumber.hex):\($0.reason.rawValue)" }.joined(separator: ",")
        let lifetime = settings.crlLifetime
        if let cached = crlCache.current.withLock({ $0 }), cached.key == key, now < cached.thisUpdate + lifetime / 2 {
            return cached.crl
        }
        let number = try await identity.store.nextCRLNumber()
        let crl: CertificateRevocationList
        do {
            crl = try CertificateRevocationList(
                authority: authority, revoked: revoked, number: number, thisUpdate: now,
                nextUpdate: now + lifetime)
        } catch {
            throw .signingFailed(error.description)
        }
        crlCache.current.withLock { $0 = CRLCache.Entry(key: key, crl: crl, thisUpdate: now) }
        return crl
    }

    private func record(principal: String?, method: String, target: String?, client: ClientInfo, outcome: String, details: [String: String]) {
        let text = (try? JSONSerialization.data(withJSONObject: details, options: [.sortedKeys, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) }
        identity.recorder.record(
            AuditEvent(
                kind: .authentication, principal: principal, authMethod: method, action: "certificate.issue",
                target: target, clientAddress: client.address, outcome: outcome, details: text))
    }
}

/// The last CRL signed by this replica.
private final class CRLCache: Sendable {
    struct Entry: Sendable {
        let key: String
        let crl: CertificateRevocationList
        let thisUpdate: Date
    }

    let current = Mutex<Entry?>(nil)
}

extension IdentityService {
    /// Creates a one-time join token for `service`'s first certificate. The token is returned
    /// once and only its keyed hash is stored; it expires after `lifetime` and is spent by the
    /// first certificate it obtains.
    public func newJoinToken(
        service name: String, lifetime: TimeInterval, createdBy: String
    )
        async throws(WorkloadError) -> (token: String, service: ServiceAccount, expiresAt: Date)
    {
        guard lifetime >= 1, lifetime <= settings.workload.maxJoinTokenLifetime else {
            throw .invalidInput("a join token lives between 1 s and \(Int(settings.workload.maxJoinTokenLifetime)) s")
        }
        let token = OpaqueSecret.generate(prefix: "pcj_")
        let expiresAt = Date() + lifetime
        let service = try await store.createJoinToken(
            service: name, hash: secretHasher.digest(token), expiresAt: expiresAt,
            createdBy: createdBy)
        return (token, service, expiresAt)
    }

    /// Revokes a certificate by serial, with every certificate renewed from it. `expiresAt` is its
    /// notAfter when the caller has the certificate; otherwise the serial must be one the Workload
    /// API issued, whose notAfter is on record.
    public func revokeCertificate(
        serial: String, reason: RevocationReason, revokedBy: String, expiresAt: Date?
    )
        async throws(WorkloadError) -> CertificateRevocation
    {
        let normalized: String
        do { normalized = try Certificate.SerialNumber(hex: serial.lowercased()).hex } catch { throw .invalidInput(error.description) }
        var until = expiresAt
        if until == nil { until = try await store.issuedCertificate(serial: normalized)?.notAfter }
        guard let until else { throw .unknownSerial(normalized) }
        return try await store.revokeCertificate(serial: normalized, reason: reason, revokedBy: revokedBy, expiresAt: until)
    }
}
