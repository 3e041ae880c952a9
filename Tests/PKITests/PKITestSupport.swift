import Crypto
import Foundation
import X509

@testable import PKI

/// A fresh directory under the system temporary directory, removed by the caller's `defer`.
func makeTemporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pki-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

func writePEM(_ certificates: [Certificate], to url: URL) throws {
    try certificates.map { try $0.serializeAsPEM().pemString + "\n" }.joined().write(to: url, atomically: true, encoding: .utf8)
}

extension CertificateAuthority {
    /// A leaf signed by this CA's intermediate with whatever the test needs, including what `issue`
    /// would refuse to produce.
    func forgeLeaf(
        names: [GeneralName], usages: [ExtendedKeyUsage.Usage] = [.clientAuth], key: Certificate.PrivateKey,
        notBefore: Date = Date() - 60, notAfter: Date = Date() + 3600
    ) throws -> Certificate {
        try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey, notValidBefore: notBefore,
            notValidAfter: notAfter, issuer: intermediate.subject, subject: try DistinguishedName { CommonName("forged") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                try ExtendedKeyUsage(usages)
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: intermediateKey)
    }
}
