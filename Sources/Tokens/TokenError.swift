/// Why a token, key or claim set was rejected.
///
/// Messages name the failed check and never include key material, token contents beyond
/// public structure (versions, key ids), or decrypted data.
public enum TokenError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libsodium could not be initialised, so nothing can be verified (fail closed).
    case cryptoUnavailable
    /// The token is longer than the configured limit; rejected before any decoding or crypto.
    case tooLarge(size: Int, limit: Int)
    /// The token does not start with the only header this verifier accepts.
    case wrongHeader(expected: String)
    /// The token's structure is not what the format requires.
    case malformed(String)
    /// The footer carries no usable key id.
    case missingKeyID
    /// The key id is not one this verifier knows.
    case unknownKeyID(String)
    /// The key id is of the wrong PASERK type for this purpose (e.g. `k4.lid` on a public token).
    case keyIDPurposeMismatch(expected: String)
    /// Signature or MAC check failed: forged, altered, or made with another key.
    case authenticationFailed
    /// JWT header names an algorithm other than EdDSA (`none`, HS256, RS256, ...).
    case unsupportedAlgorithm(String)
    /// The JWT header carries a critical extension we do not implement.
    case unsupportedCriticalHeader
    /// A key has the wrong length or encoding.
    case invalidKey(String)
    /// The claims could not be decoded as the expected structure.
    case invalidClaims(String)
    /// `exp` is at or before now minus the allowed clock skew.
    case expired
    /// `nbf` is after now plus the allowed clock skew.
    case notYetValid
    /// `iat` is after now plus the allowed clock skew.
    case issuedInFuture
    /// `exp - iat` exceeds the policy's maximum lifetime.
    case lifetimeTooLong(seconds: Int, limit: Int)
    /// `iss` is not one of the accepted issuers.
    case issuerNotAccepted(String)
    /// No `aud` entry matches an accepted audience exactly.
    case audienceNotAccepted

    public var description: String {
        switch self {
        case .cryptoUnavailable: "libsodium failed to initialise; refusing to process tokens"
        case let .tooLarge(size, limit): "token is \(size) bytes, above the limit of \(limit) bytes"
        case let .wrongHeader(expected): "token header is not '\(expected)'"
        case let .malformed(reason): "malformed token: \(reason)"
        case .missingKeyID: "token carries no key id (expected 'kid')"
        case let .unknownKeyID(kid): "unknown key id '\(printable(kid, limit: 64))'"
        case let .keyIDPurposeMismatch(expected): "key id is not a '\(expected)' identifier"
        case .authenticationFailed: "signature or authentication tag is invalid"
        case let .unsupportedAlgorithm(alg): "algorithm '\(printable(alg, limit: 32))' is not accepted (only EdDSA)"
        case .unsupportedCriticalHeader: "token has a 'crit' header, which is not supported"
        case let .invalidKey(reason): "invalid key: \(reason)"
        case let .invalidClaims(reason): "invalid claims: \(reason)"
        case .expired: "token has expired"
        case .notYetValid: "token is not valid yet (nbf in the future)"
        case .issuedInFuture: "token was issued in the future (iat beyond clock skew)"
        case let .lifetimeTooLong(seconds, limit): "token lifetime \(seconds) s exceeds the maximum of \(limit) s"
        case let .issuerNotAccepted(issuer): "issuer '\(printable(issuer, limit: 128))' is not accepted"
        case .audienceNotAccepted: "no audience in the token is accepted here"
        }
    }
}

/// Token-supplied text in a message: truncated, and anything but printable ASCII replaced, so
/// an attacker cannot forge log lines through a key id or issuer.
private func printable(_ text: String, limit: Int) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit).map { (0x20...0x7E).contains($0.value) ? $0 : "?" }))
}
