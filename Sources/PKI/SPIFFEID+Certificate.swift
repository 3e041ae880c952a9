import X509

extension SPIFFEID {
    /// The workload a certificate names, checked the way the X.509-SVID specification asks: exactly
    /// one URI SAN, which is a valid SPIFFE ID, on a certificate that is not a CA. A second URI SAN
    /// would let one certificate speak for two workloads, so it is refused rather than ignored.
    public init(certificate: Certificate) throws(PKIError) {
        let names: SubjectAlternativeNames?
        let constraints: BasicConstraints?
        do {
            names = try certificate.extensions.subjectAlternativeNames
            constraints = try certificate.extensions.basicConstraints
        } catch {
            throw .malformedCertificate("cannot decode the extensions of \(certificate.subject): \(error)")
        }
        if case .isCertificateAuthority = constraints {
            throw .notAnSVID("\(certificate.subject) is a CA certificate")
        }
        let uris = (names ?? SubjectAlternativeNames()).compactMap { name -> String? in
            if case .uniformResourceIdentifier(let uri) = name { uri } else { nil }
        }
        guard uris.count == 1, let uri = uris.first else {
            throw .notAnSVID("\(certificate.subject) has \(uris.count) URI SANs, not exactly one")
        }
        do {
            self = try SPIFFEID(uri)
        } catch {
            throw .notAnSVID("its URI SAN is not a SPIFFE ID: \(error)")
        }
    }
}
