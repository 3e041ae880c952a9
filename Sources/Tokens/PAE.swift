/// Pre-Authentication Encoding from the PASETO specification (docs/01-Protocol-Versions/Common.md):
/// `LE64(n) || for each piece: LE64(len) || piece`, with the top bit of every LE64 cleared.
/// It makes the signed/MACed message unambiguous, so pieces cannot be shifted between fields.
public enum PAE {
    /// The PAE of `pieces`, in order.
    public static func encode(_ pieces: [UInt8]...) -> [UInt8] {
        var total = 8
        for piece in pieces { total += 8 + piece.count }
        var out = [UInt8]()
        out.reserveCapacity(total)
        appendLE64(UInt64(pieces.count), to: &out)
        for piece in pieces {
            appendLE64(UInt64(piece.count), to: &out)
            out.append(contentsOf: piece)
        }
        return out
    }

    private static func appendLE64(_ value: UInt64, to out: inout [UInt8]) {
        let cleared = value & 0x7FFF_FFFF_FFFF_FFFF
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: cleared >> UInt64(shift))) }
    }
}
