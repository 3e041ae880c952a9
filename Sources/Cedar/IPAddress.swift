/// Cedar `ipaddr`: an address plus a prefix length, kept unmasked.
///
/// Equality compares address and prefix, so `ip("10.0.0.1/24") != ip("10.0.0.0/24")`.
/// Parsing follows Cedar's `ipaddr.rs` (Rust `std::net` address syntax plus Cedar's checks).
/// Error messages never repeat the input: it may come from request context and hold a secret.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let isV4: Bool
    /// The address as a 128-bit number (high and low halves); IPv4 uses the low 32 bits.
    let high: UInt64
    let low: UInt64
    public let prefix: UInt8

    /// Parses `addr` or `addr/prefix`; the error text names the problem.
    public static func parse(_ text: String) -> Result<IPAddress, EvaluationError> {
        func fail(_ m: String) -> Result<IPAddress, EvaluationError> {
            .failure(.extensionError(function: "ipaddr", message: m))
        }
        let bytes = Array(text.utf8)
        if bytes.count > 43 { return fail("invalid IP address: longer than 43 characters") }
        let colons = bytes.filter { $0 == UInt8(ascii: ":") }.count
        let dots = bytes.filter { $0 == UInt8(ascii: ".") }.count
        if colons >= 2 && dots >= 2 {
            return fail("error parsing IP address from string: We do not accept IPv4 embedded in IPv6 (e.g., ::ffff:127.0.0.1)")
        }
        let slash = bytes.firstIndex(of: UInt8(ascii: "/"))
        let addrBytes = slash.map { Array(bytes[..<$0]) } ?? bytes
        let prefixBytes = slash.map { Array(bytes[($0 + 1)...]) }
        var isV4 = true
        var high: UInt64 = 0
        var low: UInt64 = 0
        if let v4 = parseV4(addrBytes) {
            low = UInt64(v4)
        } else if let v6 = parseV6(addrBytes) {
            isV4 = false
            (high, low) = v6
        } else {
            return fail("invalid IP address: expected a dotted-quad IPv4 or an IPv6 address")
        }
        let limit = isV4 ? 32 : 128
        var prefix = limit
        if let p = prefixBytes {
            guard !p.isEmpty, p.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                return fail("error parsing prefix: expected decimal digits after `/`")
            }
            if p.count > 1 && p[0] == 48 { return fail("error parsing prefix: leading zero(s)") }
            if p.count > (isV4 ? 2 : 3) { return fail("error parsing prefix: larger than the limit \(limit)") }
            let value = p.reduce(0) { $0 * 10 + Int($1 - 48) }
            if value > limit { return fail("error parsing prefix: \(value) is larger than the limit \(limit)") }
            prefix = value
        }
        return .success(IPAddress(isV4: isV4, high: high, low: low, prefix: UInt8(prefix)))
    }

    /// Strict dotted quad: four decimal octets, no leading zeros, each at most 255.
    private static func parseV4(_ b: [UInt8]) -> UInt32? {
        var result: UInt32 = 0
        var parts = 0
        var i = 0
        while true {
            let start = i
            var value = 0
            while i < b.count, b[i] >= 48, b[i] <= 57, i - start < 3 {
                value = value * 10 + Int(b[i] - 48)
                i += 1
            }
            let len = i - start
            if len == 0 || value > 255 || (len > 1 && b[start] == 48) { return nil }
            result = result << 8 | UInt32(value)
            parts += 1
            if parts == 4 { return i == b.count ? result : nil }
            guard i < b.count, b[i] == UInt8(ascii: ".") else { return nil }
            i += 1
        }
    }

    /// Eight groups of 1–4 hex digits; `::` stands for at least one zero group and may appear once.
    private static func parseV6(_ b: [UInt8]) -> (UInt64, UInt64)? {
        func hex(_ c: UInt8) -> UInt16? {
            switch c {
            case 48...57: return UInt16(c - 48)
            case 97...102: return UInt16(c - 87)
            case 65...70: return UInt16(c - 55)
            default: return nil
            }
        }
        // Reads groups separated by single colons; stops before `::` or at the end.
        func groups(_ from: Int, max: Int) -> ([UInt16], Int)? {
            var out: [UInt16] = []
            var i = from
            while out.count < max {
                var v: UInt16 = 0
                var n = 0
                while i < b.count, n < 4, let h = hex(b[i]) {
                    v = v << 4 | h
                    i += 1
                    n += 1
                }
                if n == 0 { return out.isEmpty ? (out, i) : nil }
                if i < b.count, hex(b[i]) != nil { return nil }
                out.append(v)
                if i + 1 < b.count, b[i] == UInt8(ascii: ":"), b[i + 1] != UInt8(ascii: ":") {
                    if out.count == max { return nil }
                    i += 1
                } else {
                    break
                }
            }
            return (out, i)
        }
        guard let (head, afterHead) = groups(0, max: 8) else { return nil }
        var all = head
        if afterHead == b.count {
            guard head.count == 8 else { return nil }
        } else {
            guard afterHead + 1 < b.count, b[afterHead] == UInt8(ascii: ":"), b[afterHead + 1] == UInt8(ascii: ":"),
                head.count <= 7
            else { return nil }
            guard let (tail, end) = groups(afterHead + 2, max: 7 - head.count), end == b.count else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for k in 0..<4 { hi = hi << 16 | UInt64(all[k]) }
        for k in 4..<8 { lo = lo << 16 | UInt64(all[k]) }
        return (hi, lo)
    }

    private var bits: Int { isV4 ? 32 : 128 }

    /// Lowest and highest address of the range, as (high, low) pairs.
    private var range: (lo: (UInt64, UInt64), hi: (UInt64, UInt64)) {
        let hostBits = bits - Int(prefix)
        func mask(_ hostBits: Int) -> (UInt64, UInt64) {
            if hostBits >= 128 { return (~0, ~0) }
            if hostBits >= 64 { return (hostBits == 64 ? 0 : (~0 >> (128 - hostBits)), ~0) }
            return (0, hostBits == 0 ? 0 : ~0 >> (64 - hostBits))
        }
        let m = mask(hostBits)
        return ((high & ~m.0, low & ~m.1), (high | m.0, low | m.1))
    }

    private static func le(_ a: (UInt64, UInt64), _ b: (UInt64, UInt64)) -> Bool {
        a.0 < b.0 || (a.0 == b.0 && a.1 <= b.1)
    }

    /// True when this range lies inside `other`'s; different families give false.
    public func isInRange(_ other: IPAddress) -> Bool {
        guard isV4 == other.isV4 else { return false }
        let a = range
        let b = other.range
        return Self.le(b.lo, a.lo) && Self.le(a.hi, b.hi)
    }

    public var isLoopback: Bool {
        isV4 ? (low >> 24 == 127 && prefix >= 8) : (high == 0 && low == 1 && prefix == 128)
    }

    public var isMulticast: Bool {
        isV4 ? (low >> 28 == 0xE && prefix >= 4) : (high >> 56 == 0xFF && prefix >= 8)
    }

    public var description: String {
        if isV4 {
            let o = (0..<4).map { String((low >> (24 - 8 * $0)) & 0xFF) }
            return o.joined(separator: ".") + "/\(prefix)"
        }
        let g = (0..<8).map { k -> String in
            let word = k < 4 ? high >> (48 - 16 * k) : low >> (48 - 16 * (k - 4))
            return String(word & 0xFFFF, radix: 16)
        }
        return g.joined(separator: ":") + "/\(prefix)"
    }
}
