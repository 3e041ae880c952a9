import Foundation

/// A client certificate as an access decision sees it. The gateway fills one from the TLS
/// handshake (its DER parse lives with the gateway, which links X.509); the policy tools from a
/// test case. `context.cert` shows the SPIFFE ID, serial and fingerprint; the thumbprint binds
/// tokens (RFC 8705) and the validity period is checked on every request, since a resumed TLS
/// session carries the certificate of an earlier handshake unchecked.
public struct ClientCertificate: Sendable, Equatable {
    public let spiffeID: String?
    /// Serial number, hex (`Certificate.SerialNumber.hex`).
    public let serial: String
    /// SHA-256 of the DER certificate, hex.
    public let sha256: String
    /// RFC 8705 `x5t#S256`: unpadded base64url of the same SHA-256, what a bound token's `cnf` names.
    public let thumbprint: String
    public let notBefore: Date
    public let notAfter: Date

    public init(
        spiffeID: String?, serial: String, sha256: String, thumbprint: String = "",
        notBefore: Date = .distantPast, notAfter: Date = .distantFuture
    ) {
        self.spiffeID = spiffeID
        self.serial = serial
        self.sha256 = sha256
        self.thumbprint = thumbprint
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// Whether `now` is inside the validity period (both ends inclusive, as RFC 5280 has it).
    public func isValid(at now: Date) -> Bool { notBefore <= now && now <= notAfter }

    /// `<id>` of a device certificate, whose SPIFFE ID is `spiffe://<trust domain>/device/<id>`;
    /// nil for workload certificates.
    public var deviceID: String? {
        guard let spiffeID, spiffeID.hasPrefix("spiffe://"),
            let marker = spiffeID.dropFirst("spiffe://".count).firstIndex(of: "/")
        else { return nil }
        let path = spiffeID[marker...]
        guard path.hasPrefix("/device/") else { return nil }
        let id = path.dropFirst("/device/".count)
        return id.isEmpty || id.contains("/") ? nil : String(id)
    }
}
