import PKI

/// Validation and normalisation of every name the identity service stores.
///
/// Logins, role, group and service names are lower-cased before they are stored or looked up,
/// so `Alice` and `alice` are one account and Cedar entity ids (`User::"alice"`) are stable.
public enum Names {
    /// 1–64 characters of `a-z 0-9 . _ @ -`, starting with a letter or digit.
    public static func login(_ raw: String, field: String = "login") throws(IdentityError) -> String {
        let value = raw.lowercased()
        guard (1...64).contains(value.utf8.count) else { throw .invalid(field, "must be 1 to 64 characters") }
        guard
            value.utf8.allSatisfy({
                isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                    || $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "-")
            }),
            let first = value.utf8.first, isLowerAlphanumeric(first)
        else { throw .invalid(field, "may contain only letters, digits, '.', '_', '@' and '-', starting with a letter or digit") }
        return value
    }

    /// Role, group and service-account names: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
    public static func identifier(_ raw: String, field: String) throws(IdentityError) -> String {
        let value = raw.lowercased()
        guard (1...64).contains(value.utf8.count) else { throw .invalid(field, "must be 1 to 64 characters") }
        guard
            value.utf8.allSatisfy({
                isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                    || $0 == UInt8(ascii: "-")
            }),
            let first = value.utf8.first, isLowerAlphanumeric(first)
        else { throw .invalid(field, "may contain only letters, digits, '.', '_' and '-', starting with a letter or digit") }
        return value
    }

    /// An e-mail address with exactly one `@` (so `a@evil.com@corp.com` is refused), a non-empty
    /// local part, a dotted ASCII domain and no whitespace or control characters.
    public static func email(_ raw: String, field: String = "email") throws(IdentityError) -> String {
        guard raw.utf8.count <= 254 else { throw .invalid(field, "must be at most 254 characters") }
        let parts = raw.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .invalid(field, "must contain exactly one '@'") }
        let local = parts[0]
        let domain = parts[1]
        guard !local.isEmpty, local.utf8.count <= 64 else { throw .invalid(field, "local part must be 1 to 64 characters") }
        guard local.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") }) else {
            throw .invalid(field, "local part may not contain spaces, quotes or control characters")
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2,
            labels.allSatisfy({ label in
                !label.isEmpty && label.utf8.count <= 63 && label.utf8.first != UInt8(ascii: "-") && label.utf8.last != UInt8(ascii: "-")
                    && label.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
            })
        else { throw .invalid(field, "domain must be a dotted ASCII host name (use punycode for international names)") }
        return raw
    }

    /// Free text shown to people (display names, descriptions): no control characters.
    public static func text(_ raw: String, field: String, maxLength: Int = 200) throws(IdentityError) -> String {
        guard raw.count <= maxLength else { throw .invalid(field, "must be at most \(maxLength) characters") }
        guard raw.unicodeScalars.allSatisfy({ !($0.properties.generalCategory == .control) }) else {
            throw .invalid(field, "may not contain control characters")
        }
        return raw
    }

    /// A SPIFFE ID, checked by the same rules as the CA (`PKI.SPIFFEID`).
    public static func spiffeID(_ raw: String, field: String = "spiffe_id") throws(IdentityError) -> String {
        do {
            return try SPIFFEID(raw).description
        } catch {
            throw .invalid(field, error.description)
        }
    }

    /// Passwords: 12 to 1024 bytes. Length is the rule that matters (NIST SP 800-63B §5.1.1.2);
    /// composition rules are not imposed.
    public static func password(_ raw: String, field: String = "password") throws(IdentityError) -> String {
        guard raw.count >= 12 else { throw .invalid(field, "must be at least 12 characters") }
        guard raw.utf8.count <= 1024 else { throw .invalid(field, "must be at most 1024 bytes") }
        return raw
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
