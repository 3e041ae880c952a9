import Foundation

/// Why the certificate a renewal was presented with cannot renew, checked by the identity
/// service itself against its issuance records (the gateway checks the handshake and each
/// request; a renewal must not depend on that alone, since an expired certificate that renews
/// itself lives forever).
public enum RenewalRefusal: Sendable, Equatable, CustomStringConvertible {
    /// The assertion does not name the certificate (no `cnf.x5t#S256`), or names one this CA's
    /// Workload API has no record of (issued offline by `cert issue`, or before renewals were recorded).
    case notOnRecord
    /// The certificate was issued to another service account.
    case anotherService(serial: String)
    /// Outside its validity period.
    case notValid(serial: String, notBefore: Date, notAfter: Date)
    /// It, or a certificate it was renewed from (`revokedAncestor`), is revoked.
    case revoked(serial: String, revokedAncestor: String?)

    public var description: String {
        switch self {
        case .notOnRecord:
            "the client certificate was not issued by the Workload API (or not recorded for renewal); get a certificate with a join token"
        case let .anotherService(serial): "the client certificate \(serial) was issued to another service account"
        case let .notValid(serial, notBefore, notAfter):
            "the client certificate \(serial) is valid from \(notBefore.formatted(.iso8601)) to \(notAfter.formatted(.iso8601)), not now"
        case let .revoked(serial, nil): "the client certificate \(serial) is revoked"
        case let .revoked(serial, ancestor?): "the client certificate \(serial) was renewed from \(ancestor), which is revoked"
        }
    }
}
