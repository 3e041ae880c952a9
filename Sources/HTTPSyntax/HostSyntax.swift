/// Host and authority parsing shared by request canonicalization and route host patterns, so
/// a configured host and a requested host go through the same rule.
///
/// The canonical host is lower-case ASCII with one trailing dot removed: a DNS name
/// (letters, digits, `-`, labels of 1–63 bytes, at most 253 bytes; punycode `xn--` labels are
/// kept as they are), a dotted IPv4 address (it is a DNS-name-shaped string), or an IPv6
/// literal in brackets (`[::1]`, lower-cased, not re-compressed; zone identifiers refused).
public enum HostSyntax {
    /// Splits `host[:port]` and returns the canonical host and the port when one is given.
    public static func parseAuthority(_ bytes: UnsafeBufferPointer<UInt8>) throws(RequestRejection) -> (host: String, port: UInt16?) {
        guard !bytes.isEmpty else { throw .emptyHost }
        guard !bytes.contains(where: { $0 >= 0x80 }) else { throw .nonASCIIHost }
        let hostEnd: Int
        if bytes[0] == ASCII.openBracket {
            guard let close = bytes.firstIndex(of: ASCII.closeBracket) else {
                throw .invalidHost(reason: "IPv6 literal without ']'")
            }
            hostEnd = close + 1
            guard hostEnd == bytes.count || bytes[hostEnd] == ASCII.colon else {
                throw .invalidHost(reason: "unexpected characters after the IPv6 literal")
            }
        } else {
            hostEnd = bytes.firstIndex(of: ASCII.colon) ?? bytes.count
        }
        let host = try parseHost(UnsafeBufferPointer(rebasing: bytes[..<hostEnd]))
        guard hostEnd < bytes.count else { return (host, nil) }
        return (host, try parsePort(UnsafeBufferPointer(rebasing: bytes[(hostEnd + 1)...])))
    }

    /// Canonicalizes a host without a port.
    public static func parseHost(_ bytes: UnsafeBufferPointer<UInt8>) throws(RequestRejection) -> String {
        guard !bytes.contains(where: { $0 >= 0x80 }) else { throw .nonASCIIHost }
        if bytes.first == ASCII.openBracket {
            guard bytes.count > 2, bytes.last == ASCII.closeBracket,
                isIPv6Address(UnsafeBufferPointer(rebasing: bytes[1..<(bytes.count - 1)]))
            else { throw .invalidHost(reason: "not a valid IPv6 literal") }
            return String(decoding: bytes.lazy.map(ASCII.lowercased), as: UTF8.self)
        }
        let name = bytes.last == ASCII.dot ? UnsafeBufferPointer(rebasing: bytes.dropLast()) : bytes
        guard !name.isEmpty else { throw .emptyHost }
        guard name.count <= 253 else { throw .invalidHost(reason: "longer than 253 bytes") }
        var labelLength = 0
        for byte in name {
            if byte == ASCII.dot {
                guard labelLength > 0 else { throw .invalidHost(reason: "empty label") }
                labelLength = 0
                continue
            }
            guard ASCII.isLetter(byte) || ASCII.isDigit(byte) || byte == ASCII.hyphen else {
                throw .invalidHost(reason: "character \(quotedForLog(String(decoding: [byte], as: UTF8.self))) is not allowed")
            }
            labelLength += 1
            guard labelLength <= 63 else { throw .invalidHost(reason: "label longer than 63 bytes") }
        }
        guard labelLength > 0 else { throw .invalidHost(reason: "empty label") }
        return String(decoding: name.lazy.map(ASCII.lowercased), as: UTF8.self)
    }

    /// 1–65535, decimal, at most five digits (no sign, no spaces).
    private static func parsePort(_ bytes: UnsafeBufferPointer<UInt8>) throws(RequestRejection) -> UInt16 {
        guard (1...5).contains(bytes.count), bytes.allSatisfy(ASCII.isDigit) else { throw .invalidPort }
        let value = bytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard (1...65535).contains(value) else { throw .invalidPort }
        return UInt16(value)
    }

    /// RFC 4291 text form: eight groups of 1–4 hex digits, one `::` standing for at least one
    /// zero group, optionally ending in a dotted IPv4 address that counts as two groups.
    public static func isIPv6Address(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        let halves = text.split(separator: "::", maxSplits: 2, omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return false }
        let groups = halves.map { half in half.isEmpty ? [] : half.split(separator: ":", omittingEmptySubsequences: false) }
        let allGroups = groups.flatMap(\.self)
        var groupCount = 0
        for (position, group) in allGroups.enumerated() {
            if position == allGroups.count - 1, group.contains(".") {
                guard isIPv4Address(group) else { return false }
                groupCount += 2
            } else {
                guard (1...4).contains(group.utf8.count), group.utf8.allSatisfy({ ASCII.hexValue($0) != nil }) else {
                    return false
                }
                groupCount += 1
            }
        }
        return halves.count == 2 ? groupCount <= 7 : groupCount == 8
    }

    private static func isIPv4Address(_ text: Substring) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4
            && octets.allSatisfy { octet in
                (1...3).contains(octet.utf8.count) && octet.utf8.allSatisfy(ASCII.isDigit) && Int(octet)! <= 255
                    && (octet.utf8.count == 1 || octet.utf8.first != UInt8(ascii: "0"))
            }
    }
}
