/// Percent-decoding and dot-segment normalization of the path part of a request target, and
/// the minimal re-encoding used to forward it. The rule is documented on
/// ``RequestCanonicalizer``; this type only implements it.
enum CanonicalPath {
    /// Decodes and normalizes a raw origin-form path (starting with `/`, no query, only
    /// visible ASCII and no `#`: the caller has checked those).
    static func canonicalize(_ raw: UnsafeBufferPointer<UInt8>) throws(RequestRejection) -> String {
        let decoded = try percentDecoded(raw)
        return String(decoding: try normalized(decoded), as: UTF8.self)
    }

    /// Step 1: decode every `%XX` once, refusing escapes that would change the path's
    /// structure for a backend that decodes differently, and path parameters.
    private static func percentDecoded(_ raw: UnsafeBufferPointer<UInt8>) throws(RequestRejection) -> [UInt8] {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var index = 0
        var sawNonASCII = false
        while index < raw.count {
            let byte = raw[index]
            if byte == ASCII.backslash { throw .backslashInPath }
            guard byte == ASCII.percent else {
                decoded.append(byte)
                index += 1
                continue
            }
            guard let value = ASCII.percentEscape(in: raw, at: index) else { throw .invalidPercentEncoding }
            switch value {
            case ASCII.slash: throw .encodedSlash
            case ASCII.backslash: throw .encodedBackslash
            case ASCII.dot: throw .encodedDot
            case 0x00: throw .encodedNUL
            case _ where ASCII.isControl(value): throw .encodedControlCharacter
            default: break
            }
            sawNonASCII = sawNonASCII || value >= 0x80
            decoded.append(value)
            index += 3
        }
        if sawNonASCII, !ASCII.isValidUTF8(decoded) { throw .invalidUTF8InPath }
        try decoded.withUnsafeBufferPointer { (bytes) throws(RequestRejection) in
            for index in bytes.indices where bytes[index] == ASCII.percent && ASCII.percentEscape(in: bytes, at: index) != nil {
                throw .doubleEncodedPath
            }
        }
        // Raw or encoded (`%3B`): servlet containers strip `;params` from segments before
        // routing, so `/v1/admin;x/settings` reaches them as `/v1/admin/settings`.
        if decoded.contains(ASCII.semicolon) { throw .pathParameter }
        return decoded
    }

    /// Step 2: merge duplicate slashes, drop `.` segments, resolve `..` segments, keep a
    /// trailing slash. The output always starts with `/`.
    private static func normalized(_ decoded: [UInt8]) throws(RequestRejection) -> [UInt8] {
        // Invariant inside the loop: `output` ends with "/" and holds the segments kept so far.
        var output: [UInt8] = [ASCII.slash]
        output.reserveCapacity(decoded.count)
        var lastSegmentWasName = false
        var segmentStart = 1
        while segmentStart <= decoded.count {
            let segmentEnd = decoded[segmentStart...].firstIndex(of: ASCII.slash) ?? decoded.count
            let segment = decoded[segmentStart..<segmentEnd]
            lastSegmentWasName = false
            if segment.isEmpty || isDot(segment) {
                // Duplicate slash or `.`: nothing to keep.
            } else if isDotDot(segment) {
                guard output.count > 1 else { throw .pathAboveRoot }
                output.removeLast()
                output.removeSubrange((output.lastIndex(of: ASCII.slash)! + 1)...)
            } else {
                output.append(contentsOf: segment)
                output.append(ASCII.slash)
                lastSegmentWasName = true
            }
            segmentStart = segmentEnd + 1
        }
        if lastSegmentWasName { output.removeLast() }
        return output
    }

    private static func isDot(_ segment: ArraySlice<UInt8>) -> Bool {
        segment.count == 1 && segment.first == ASCII.dot
    }

    private static func isDotDot(_ segment: ArraySlice<UInt8>) -> Bool {
        segment.count == 2 && segment.allSatisfy { $0 == ASCII.dot }
    }

    /// The canonical path as sent upstream: every byte percent-encoded except unreserved
    /// characters, sub-delimiters, `:`, `@` and `/` (RFC 3986 `pchar` plus `/`). Decoding it
    /// once gives back exactly the canonical path.
    static func encoded(_ path: String) -> String {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(path.utf8.count)
        for byte in path.utf8 {
            if isLeftUnencoded(byte) {
                encoded.append(byte)
            } else {
                encoded.append(ASCII.percent)
                encoded.append(hexDigits[Int(byte >> 4)])
                encoded.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func isLeftUnencoded(_ byte: UInt8) -> Bool {
        if ASCII.isLetter(byte) || ASCII.isDigit(byte) { return true }
        return switch byte {
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),  // unreserved
            UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
            UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
            UInt8(ascii: "="),  // sub-delims
            UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"):
            true
        default:
            false
        }
    }
}
