import Foundation

/// Time-based one-time passwords (RFC 6238) with the parameters every authenticator app
/// supports: HMAC-SHA1, 6 digits, 30-second steps.
public struct TOTP: Sendable, CustomStringConvertible {
    /// The shared secret. Kept out of `description`.
    let secret: SecretBytes
    public static let digits = 6
    public static let period: TimeInterval = 30

    public init(secret: [UInt8]) { self.secret = SecretBytes(secret) }

    /// A new 160-bit secret from `randombytes_buf` (RFC 4226 §4 recommends 160 bits).
    public static func generateSecret() -> [UInt8] { Sodium.randomBytes(20) }

    /// The time step containing `date` (RFC 6238 §4: T = floor((now - T0) / X), T0 = 0).
    public static func step(at date: Date) -> UInt64 {
        UInt64(max(0, date.timeIntervalSince1970) / period)
    }

    /// The code for one time step (RFC 4226 §5.3 dynamic truncation).
    public func code(forStep step: UInt64) -> String {
        var counter = [UInt8](repeating: 0, count: 8)
        for index in 0..<8 { counter[index] = UInt8(truncatingIfNeeded: step >> UInt64(56 - index * 8)) }
        var key = secret.copy()
        defer { Sodium.wipe(&key) }
        let mac = SHA1.hmac(key: key, message: counter)
        let offset = Int(mac[19] & 0x0F)
        let binary =
            UInt32(mac[offset] & 0x7F) << 24 | UInt32(mac[offset + 1]) << 16
            | UInt32(mac[offset + 2]) << 8 | UInt32(mac[offset + 3])
        let value = binary % 1_000_000
        let text = String(value)
        return String(repeating: "0", count: Self.digits - text.count) + text
    }

    /// The code at a moment.
    public func code(at date: Date) -> String { code(forStep: Self.step(at: date)) }

    /// Checks `code` against the steps `now - window ... now + window`, skipping steps at or
    /// below `lastUsedStep` so a code cannot be replayed. Returns the matched step, which the
    /// caller must store as the new `lastUsedStep`; nil if nothing matched.
    public func verify(_ code: String, at now: Date, window: UInt64 = 1, lastUsedStep: UInt64? = nil) -> UInt64? {
        let candidate = Array(code.utf8)
        guard candidate.count == Self.digits, candidate.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        let current = Self.step(at: now)
        var matched: UInt64?
        // Check every step in the window (no early exit) so timing does not reveal which matched.
        let lowest = current >= window ? current - window : 0
        for step in lowest...(current + window) {
            if let last = lastUsedStep, step <= last { continue }
            if Sodium.constantTimeEqual(Array(self.code(forStep: step).utf8), candidate), matched == nil { matched = step }
        }
        return matched
    }

    /// `otpauth://totp/Issuer:account?secret=...&issuer=...` for QR enrolment
    /// (Google Authenticator key URI format).
    public func provisioningURI(issuer: String, account: String) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        func escape(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "" }
        var key = secret.copy()
        defer { Sodium.wipe(&key) }
        let secretText = Base32.encode(key)
        return "otpauth://totp/\(escape(issuer)):\(escape(account))?secret=\(secretText)&issuer=\(escape(issuer))"
            + "&algorithm=SHA1&digits=\(Self.digits)&period=\(Int(Self.period))"
    }

    public var description: String { "TOTP(secret redacted)" }
}
