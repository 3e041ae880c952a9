import Foundation
import Tokens

/// UTC calendar arithmetic on integers, for the hot write path (no Calendar, no Date formatting);
/// days become dates through Tokens' `CivilDate`.
enum CivilTime {
    /// Microseconds since 1970 (UTC), rounded down: the unit of every audit time.
    static func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
    }

    /// Floor division: the UTC day of an instant and the microseconds into it.
    static func split(micros: Int64) -> (day: Int64, microsOfDay: Int64) {
        let perDay: Int64 = 86_400_000_000
        var day = micros / perDay
        var rest = micros % perDay
        if rest < 0 {
            day -= 1
            rest += perDay
        }
        return (day, rest)
    }

    /// `YYYYMMDD`.
    static func compactDate(ofDay day: Int64) -> String {
        let date = CivilDate(daysSince1970: day)
        return String(date.year).leftPadded(to: 4) + String(date.month).leftPadded(to: 2) + String(date.day).leftPadded(to: 2)
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`, the text PostgreSQL reads as a `timestamptz` exactly.
    static func timestampText(micros: Int64) -> String {
        let (day, microsOfDay) = split(micros: micros)
        let date = CivilDate(daysSince1970: day)
        let seconds = microsOfDay / 1_000_000
        var text = String(date.year).leftPadded(to: 4)
        text += "-" + String(date.month).leftPadded(to: 2) + "-" + String(date.day).leftPadded(to: 2)
        text += " " + String(seconds / 3600).leftPadded(to: 2) + ":" + String(seconds / 60 % 60).leftPadded(to: 2)
        text += ":" + String(seconds % 60).leftPadded(to: 2) + "." + String(microsOfDay % 1_000_000).leftPadded(to: 6) + "+00"
        return text
    }
}
