/// Cedar `decimal`: a fixed-point number with four fractional digits, stored as an i64 of 10⁻⁴.
public struct CedarDecimal: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let scaled: Int64

    /// Accepts `-?digits.digits` with 1–4 fractional digits (Cedar `decimal.rs`); overflow is an error.
    /// Like the other extension parsers, errors do not repeat the input (it may be a secret).
    public static func parse(_ text: String) -> Result<CedarDecimal, EvaluationError> {
        let bad = EvaluationError.extensionError(
            function: "decimal", message: "not a well-formed decimal value: expected digits, a `.`, and 1 to 4 digits")
        var b = Substring(text).utf8[...]
        let negative = b.first == UInt8(ascii: "-")
        if negative { b = b.dropFirst() }
        guard let dot = b.firstIndex(of: UInt8(ascii: ".")) else { return .failure(bad) }
        let intPart = b[..<dot]
        let frac = b[b.index(after: dot)...]
        let isDigit: (UInt8) -> Bool = { $0 >= 48 && $0 <= 57 }
        guard !intPart.isEmpty, !frac.isEmpty, intPart.allSatisfy(isDigit), frac.allSatisfy(isDigit) else {
            return .failure(bad)
        }
        guard frac.count <= 4 else { return .failure(bad) }
        let overflow = EvaluationError.extensionError(function: "decimal", message: "overflow when converting to decimal")
        // Accumulate in the sign's own direction so that the minimum value is representable.
        let sign: Int64 = negative ? -1 : 1
        var value: Int64 = 0
        for d in intPart {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(sign * Int64(d - 48))
            if o1 || o2 { return .failure(overflow) }
            value = s
        }
        var fracValue: Int64 = 0
        for d in frac { fracValue = fracValue * 10 + Int64(d - 48) }
        for _ in frac.count..<4 { fracValue *= 10 }
        let (m, o1) = value.multipliedReportingOverflow(by: 10_000)
        let (s, o2) = m.addingReportingOverflow(sign * fracValue)
        if o1 || o2 { return .failure(overflow) }
        return .success(CedarDecimal(scaled: s))
    }

    public static func < (l: CedarDecimal, r: CedarDecimal) -> Bool { l.scaled < r.scaled }

    public var description: String {
        let magnitude = scaled.magnitude
        let frac = String(magnitude % 10_000)
        return (scaled < 0 ? "-" : "") + String(magnitude / 10_000) + "." + String(repeating: "0", count: 4 - frac.count) + frac
    }
}

/// Cedar `duration`: a signed count of milliseconds.
public struct CedarDuration: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// Accepts `-?(Nd)?(Nh)?(Nm)?(Ns)?(Nms)?` with at least one unit, units in decreasing order.
    public static func parse(_ text: String) -> Result<CedarDuration, EvaluationError> {
        let bad = EvaluationError.extensionError(function: "duration", message: "invalid duration pattern")
        let overflow = EvaluationError.extensionError(function: "duration", message: "overflow when converting to duration")
        let b = Array(text.utf8)
        var i = 0
        let negative = b.first == UInt8(ascii: "-")
        if negative { i = 1 }
        // Unit rank: d=0 h=1 m=2 s=3 ms=4; each must be greater than the previous one.
        let factors: [Int64] = [86_400_000, 3_600_000, 60_000, 1000, 1]
        var lastRank = -1
        var total: Int64 = 0
        var units = 0
        // Each quantity carries the sign before scaling, so `-9223372036854775808ms` (i64::MIN) is accepted.
        let sign: Int64 = negative ? -1 : 1
        while i < b.count {
            var n: Int64 = 0
            let start = i
            var tooBig = false
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                let (m, o1) = n.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(sign * Int64(b[i] - 48))
                if o1 || o2 { tooBig = true }
                n = s
                i += 1
            }
            guard i > start, i < b.count else { return .failure(bad) }
            let rank: Int
            switch b[i] {
            case UInt8(ascii: "d"): rank = 0
            case UInt8(ascii: "h"): rank = 1
            case UInt8(ascii: "m"):
                if i + 1 < b.count, b[i + 1] == UInt8(ascii: "s") {
                    rank = 4
                    i += 1
                } else {
                    rank = 2
                }
            case UInt8(ascii: "s"): rank = 3
            default: return .failure(bad)
            }
            i += 1
            guard rank > lastRank else { return .failure(bad) }
            lastRank = rank
            units += 1
            if tooBig { return .failure(overflow) }
            let (v, o1) = n.multipliedReportingOverflow(by: factors[rank])
            let (t, o2) = total.addingReportingOverflow(v)
            if o1 || o2 { return .failure(overflow) }
            total = t
        }
        guard units > 0 else { return .failure(bad) }
        return .success(CedarDuration(milliseconds: total))
    }

    public static func < (l: CedarDuration, r: CedarDuration) -> Bool { l.milliseconds < r.milliseconds }
    public var description: String { "\(milliseconds)ms" }
}

/// Cedar `datetime`: milliseconds since the Unix epoch, UTC-normalized.
public struct CedarDatetime: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let epochMilliseconds: Int64

    public init(epochMilliseconds: Int64) { self.epochMilliseconds = epochMilliseconds }

    static let msPerDay: Int64 = 86_400_000

    /// Accepts exactly `YYYY-MM-DD`, optionally `Thh:mm:ss` then `Z`, `.SSSZ`, `±hhmm` or `.SSS±hhmm`.
    /// Hand-written on purpose: ISO 8601 libraries accept many forms Cedar rejects.
    public static func parse(_ text: String) -> Result<CedarDatetime, EvaluationError> {
        func fail(_ m: String) -> Result<CedarDatetime, EvaluationError> {
            .failure(.extensionError(function: "datetime", message: m))
        }
        let b = Array(text.utf8)
        func num(_ at: Int, _ len: Int) -> Int? {
            guard at + len <= b.count else { return nil }
            var v = 0
            for k in at..<(at + len) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            return v
        }
        func char(_ at: Int, _ c: Character) -> Bool { at < b.count && b[at] == c.asciiValue! }
        guard let year = num(0, 4), char(4, "-"), let month = num(5, 2), char(7, "-"), let day = num(8, 2) else {
            return fail("invalid date pattern")
        }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year, month) else {
            return fail("invalid date: no such day in the calendar")
        }
        var ms = Int64(daysFromCivil(year, month, day)) * msPerDay
        if b.count == 10 { return .success(CedarDatetime(epochMilliseconds: ms)) }
        guard char(10, "T"), let hh = num(11, 2), char(13, ":"), let mm = num(14, 2), char(16, ":"), let ss = num(17, 2) else {
            return fail("invalid date pattern")
        }
        var i = 19
        var millis = 0
        if char(i, ".") {
            guard let v = num(i + 1, 3) else { return fail("invalid millisecond and/or offset pattern") }
            millis = v
            i += 4
        }
        var offsetMinutes = 0
        if char(i, "Z"), i + 1 == b.count {
            i += 1
        } else if char(i, "+") || char(i, "-"), let oh = num(i + 1, 2), let om = num(i + 3, 2), i + 5 == b.count {
            guard oh < 24, om < 60 else { return fail("invalid offset range: hours must be below 24 and minutes below 60") }
            offsetMinutes = (oh * 60 + om) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 5
        } else {
            return fail("invalid millisecond and/or offset pattern")
        }
        guard hh <= 23, mm <= 59, ss <= 59 else {
            return fail("invalid hour/minute/second: expected at most 23:59:59")
        }
        ms += Int64(((hh * 60 + mm) * 60 + ss) * 1000 + millis) - Int64(offsetMinutes) * 60_000
        return .success(CedarDatetime(epochMilliseconds: ms))
    }

    private static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    private static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: return isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    /// Tokens' `CivilDate` holds the same algorithm; Cedar keeps its own so that it imports nothing of ours.
    private static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func < (l: CedarDatetime, r: CedarDatetime) -> Bool { l.epochMilliseconds < r.epochMilliseconds }
    public var description: String { "\(epochMilliseconds)ms since epoch" }
}
