import Crypto
import Foundation
import SwiftASN1
import X509

extension CertificateSigningRequest {
    /// Parses a PKCS#10 request sent either as PEM (`-----BEGIN CERTIFICATE REQUEST-----`) or as raw
    /// DER, the two forms `openssl req` and the SPIFFE tooling produce. The signature is not checked
    /// here; `CertificateAuthority.issue(csr:…)` does that.
    public init(pemOrDER bytes: [UInt8]) throws(PKIError) {
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            if text.hasPrefix("-----BEGIN") {
                self = try CertificateSigningRequest(pemEncoded: text)
            } else if bytes.first == 0x30 {
                self = try CertificateSigningRequest(derEncoded: bytes)
            } else {
                throw PKIError.invalidCSR("expected PEM or DER")
            }
        } catch let error as PKIError {
            throw error
        } catch {
            throw .invalidCSR(String(describing: error))
        }
    }
}

extension CertificateAuthority {
    /// Issues a workload certificate for a CSR received by the Workload API.
    ///
    /// Only the CSR's public key is used, and only after its self-signature proves the requester holds
    /// the private key. Everything the CSR claims (subject, requested SANs, extensions) is ignored: the
    /// SPIFFE ID comes from the service account binding, so a CSR naming another workload still gets
    /// a certificate for the bound ID. The certificate is for clients (EKU clientAuth only): a server
    /// certificate needs DNS names the binding does not vouch for, so `portcullis cert issue --server`
    /// remains the way to get one. The lifetime is cut short rather than refused when the intermediate
    /// expires sooner, so renewals keep working until the intermediate itself expires.
    ///
    /// - Returns: the leaf followed by the intermediate, the chain a TLS peer presents.
    public func issue(
        csr: CertificateSigningRequest, spiffeID: SPIFFEID, ttl: Duration = .seconds(3600),
        now: Date = Date()
    ) throws(PKIError) -> [Certificate] {
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else { throw .invalidCSRSignature }
        guard spiffeID.trustDomain == trustDomain else {
            throw .outsideTrustDomain(spiffeID: spiffeID.description, trustDomain: trustDomain)
        }
        guard Self.acceptsKey(csr.publicKey) else {
            throw .invalidCSR("\(csr.publicKey) is not accepted; use an ECDSA (P-256, P-384, P-521) or Ed25519 key")
        }
        let requested = Double(ttl.components.seconds) + Double(ttl.components.attoseconds) / 1e18
        guard requested > 0 else { throw .invalidRequest("the lifetime must be positive, not \(ttl)") }
        let remaining = intermediate.notValidAfter.timeIntervalSince(now)
        guard remaining > 0 else {
            throw .invalidRequest("the issuing CA expired at \(intermediate.notValidAfter); no certificate can be issued")
        }
        do {
            let leaf = try issue(spiffeID: spiffeID, publicKey: csr.publicKey, lifetime: min(requested, remaining), now: now)
            return [leaf, intermediate]
        } catch let error as PKIError {
            throw error
        } catch {
            throw .signingFailed(String(describing: error))
        }
    }

    /// RSA is refused so that every workload key is an elliptic-curve key whose strength is fixed by
    /// its curve, not by a size the requester chooses.
    static func acceptsKey(_ key: Certificate.PublicKey) -> Bool {
        P256.Signing.PublicKey(key) != nil || P384.Signing.PublicKey(key) != nil
            || P521.Signing.PublicKey(key) != nil || Curve25519.Signing.PublicKey(key) != nil
    }
}

extension CertificateSigningRequest {
    /// The subject alternative names the request asks for (its extensionRequest attribute), as
    /// `uri:…`, `dns:…`, `ip:…` or `other:…` strings. The Workload API never copies them into a
    /// certificate, but it refuses a request that asks for a name other than the service's bound
    /// SPIFFE ID, so that a workload configured with the wrong identity, or a forged request,
    /// fails visibly instead of silently getting a certificate for something else.
    public func requestedNames() throws(PKIError) -> [String] {
        let names: SubjectAlternativeNames?
        do {
            names = try attributes.extensionRequest?.extensions.subjectAlternativeNames
        } catch {
            throw .invalidCSR("cannot decode the requested extensions: \(error)")
        }
        return (names ?? SubjectAlternativeNames()).map { name in
            switch name {
            case .uniformResourceIdentifier(let uri): "uri:\(uri)"
            case .dnsName(let dns): "dns:\(dns)"
            case .ipAddress(let bytes): "ip:\(hexEncoded(bytes.bytes))"
            case .rfc822Name(let mail): "email:\(mail)"
            default: "other:\(name)"
            }
        }
    }
}
