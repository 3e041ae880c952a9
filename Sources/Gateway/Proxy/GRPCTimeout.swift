import HTTPTypes

/// The `grpc-timeout` request header (PROTOCOL-HTTP2.md): at most 8 digits and a unit, `H`
/// hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds, `n` nanoseconds. The
/// gateway ends the call when it passes, whatever the upstream does.
enum GRPCTimeout {
    static let header = HTTPField.Name("grpc-timeout")!

    /// The duration of a well-formed value; nil otherwise (the call is then bounded by the
    /// route alone, as a client that sent no timeout).
    static func parse(_ value: String) -> Duration? {
        let bytes = Array(value.utf8)
        guard (2...9).contains(bytes.count), let unit = bytes.last else { return nil }
        var amount: Int64 = 0
        for byte in bytes.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }
}
