import Foundation

/// RFC 3339 timestamps as PASETO registered claims use them (`2022-01-01T00:00:00+00:00`), and as
/// command-line options and request files take them.
///
/// A small fixed-format codec: avoids the non-Sendable, slow `ISO8601DateFormatter` on the
/// verification path. Output is always UTC with whole seconds and a `Z` suffix; input may carry
/// fractional seconds and any offset.
public enum RFC3339 {
    /// Why a text given as an RFC 3339 time was refused, with an example of one.
    public struct InvalidTime: Error, Equatable, CustomStringConvertible {
        public let text: String
        public var description: String { "'\(text)' is not an RFC 3339 time such as 2025-01-06T10:00:00Z" }
    }

    /// `parse` for input a person wrote (command-line options, request files): the error says what was expected.
    public static func date(from text: String) throws(InvalidTime) -> Date {
        guard let date = parse(text) else { throw InvalidTime(text: text) }
        return date
    }

    static func format(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let date = CivilDate(daysSince1970: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))"
            + "T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))Z"
    }

    static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8(parse)
    }

    private static func parse(_ c: UnsafeBufferPointer<UInt8>) -> Date? {
        guard c.count >= 20, c[4] == UInt8(ascii: "-"), c[7] == UInt8(ascii: "-"),
            c[10] == UInt8(ascii: "T") || c[10] == UInt8(ascii: "t"),
            c[13] == UInt8(ascii: ":"), c[16] == UInt8(ascii: ":"),
            let year = digits(c, 0, 4), let month = digits(c, 5, 2), let day = digits(c, 8, 2),
            let hour = digits(c, 11, 2), let minute = digits(c, 14, 2), let second = digits(c, 17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if c[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < c.count, let digit = digits(c, index, 1) {
                fraction += Double(digit) * scale
                scale /= 10
                index += 1
            }
            if index == start { return nil }
        }
        guard index < c.count else { return nil }
        var offset: Int64 = 0
        switch c[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == c.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == c.count, c[index + 3] == UInt8(ascii: ":"),
                let oh = digits(c, index + 1, 2), let om = digits(c, index + 4, 2), oh < 24, om < 60
            else { return nil }
            offset = (oh * 3600 + om * 60) * (c[index] == UInt8(ascii: "+") ? 1 : -1)
        default:
            return nil
        }
        let days = CivilDate(year: year, month: month, day: day).daysSince1970
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private static func digits(_ c: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int64? {
        guard start + count <= c.count else { return nil }
        var value: Int64 = 0
        for byte in c[start..<(start + count)] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
