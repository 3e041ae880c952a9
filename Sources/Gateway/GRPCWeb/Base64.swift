import NIOCore

/// Standard base64 (RFC 4648 §4) for gRPC-Web text bodies, which are encoded and decoded
/// as they stream, a few bytes at a time.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }()

    /// `bytes` encoded, padded with `=` to a whole group.
    static func encode(_ bytes: ArraySlice<UInt8>) -> String {
        var output = [UInt8]()
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let count = min(3, bytes.endIndex - index)
            let a = bytes[index]
            let b = count > 1 ? bytes[index + 1] : 0
            let c = count > 2 ? bytes[index + 2] : 0
            output.append(alphabet[Int(a >> 2)])
            output.append(alphabet[Int((a & 0x03) << 4 | b >> 4)])
            output.append(count > 1 ? alphabet[Int((b & 0x0F) << 2 | c >> 6)] : UInt8(ascii: "="))
            output.append(count > 2 ? alphabet[Int(c & 0x3F)] : UInt8(ascii: "="))
            index += count
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes one group of four characters (with its padding, if any) into `output`; false
    /// when the group is not base64.
    static func decode(_ group: [UInt8], into output: inout ByteBuffer) -> Bool {
        let padding = group[3] == UInt8(ascii: "=") ? (group[2] == UInt8(ascii: "=") ? 2 : 1) : 0
        var bits: UInt32 = 0
        for (position, character) in group.enumerated() {
            let value = position >= 4 - padding ? 0 : values[Int(character)]
            guard value != 0xFF else { return false }
            bits = bits << 6 | UInt32(value)
        }
        output.writeInteger(UInt8(bits >> 16 & 0xFF))
        if padding < 2 { output.writeInteger(UInt8(bits >> 8 & 0xFF)) }
        if padding < 1 { output.writeInteger(UInt8(bits & 0xFF)) }
        return true
    }

    static func isWhitespace(_ character: UInt8) -> Bool {
        character == UInt8(ascii: " ") || character == UInt8(ascii: "\r") || character == UInt8(ascii: "\n") || character == UInt8(ascii: "\t")
    }
}
