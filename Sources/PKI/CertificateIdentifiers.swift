import Crypto
import SwiftASN1
import X509

extension Certificate.SerialNumber {
    /// The serial's big-endian magnitude in lower-case hex, no separators (OpenSSL prints the same
    /// digits in upper case): the one spelling the revocation store, the verifier's verdicts,
    /// `cert inspect` and `cert revoke` share. (`description` drops each byte's leading zero, so it
    /// cannot be parsed back.)
    public var hex: String { bytes.isEmpty ? "00" : hexEncoded(bytes) }

    /// Parses a serial written as `hex` above or as `openssl x509 -serial` prints it (upper case,
    /// colons allowed).
    public init(hex text: String) throws(PKIError) {
        let digits = Array(text.filter { $0 != ":" })
        guard !digits.isEmpty, digits.count.isMultiple(of: 2), digits.count <= 42 else {
            throw .invalidRequest("'\(text)' is not a certificate serial number in hex")
        }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(digits[index...index + 1]), radix: 16) else {
                throw .invalidRequest("'\(text)' is not a certificate serial number in hex")
            }
            bytes.append(byte)
        }
        self.init(bytes: bytes)
    }
}

extension Certificate {
    /// Lower-case hex SHA-256 of the DER encoding: the fingerprint audit events and `cert inspect` show.
    public func sha256Fingerprint() throws(PKIError) -> String {
        var coder = DER.Serializer()
        do {
            try coder.serialize(self)
        } catch {
            throw .malformedCertificate("cannot encode \(subject): \(error)")
        }
        return CertificateDigest(der: coder.serializedBytes).hex
    }
}

/// SHA-256 of a certificate's DER encoding, hashed from the bytes as received (never re-encoded).
/// `hex` is the fingerprint audit events, `cert inspect` and `context.cert.sha256` show; the raw
/// `bytes`, base64url-encoded, are RFC 8705's `x5t#S256`, which a certificate-bound token names.
public struct CertificateDigest: Sendable, Hashable {
    public let bytes: [UInt8]

    public init(der: [UInt8]) { bytes = Array(SHA256.hash(data: der)) }

    /// A digest given as its 32 bytes (an `x5t#S256` decoded); nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == SHA256.byteCount else { return nil }
        self.bytes = bytes
    }

    public var hex: String { hexEncoded(bytes) }
}

func hexEncoded(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
}
