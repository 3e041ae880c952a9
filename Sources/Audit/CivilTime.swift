/// UTC calendar arithmetic on integers, for the hot write path (no Calendar, no Date formatting).
/// The day-number conversion is the classic proleptic-Gregorian era/day-of-era method.
enum CivilTime {
    /// Floor division: the UTC day of an instant and the microseconds into it.
    static func split(micros: Int64) -> (day: Int64, microsOfDay: Int64) {
        let perDay: Int64 = 86_400_000_000
        var day = micros / perDay
        var rest = micros % perDay
        if rest < 0 { day -= 1; rest += perDay }
        return (day, rest)
    }

    /// (year, month 1–12, day 1–31) of a day counted from 1970-01-01.
    static func date(ofDay day: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let dayOfMonth = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, dayOfMonth)
    }

    /// `YYYYMMDD`.
    static func compactDate(ofDay day: Int64) -> String {
        let (year, month, dayOfMonth) = date(ofDay: day)
        return String(year).leftPadded(to: 4) + String(month).leftPadded(to: 2) + String(dayOfMonth).leftPadded(to: 2)
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`, the text PostgreSQL reads as a `timestamptz` exactly.
    static func timestampText(micros: Int64) -> String {
        let (day, microsOfDay) = split(micros: micros)
        let (year, month, dayOfMonth) = date(ofDay: day)
        let seconds = microsOfDay / 1_000_000
        var text = String(year).leftPadded(to: 4)
        text += "-" + String(month).leftPadded(to: 2) + "-" + String(dayOfMonth).leftPadded(to: 2)
        text += " " + String(seconds / 3600).leftPadded(to: 2) + ":" + String(seconds / 60 % 60).leftPadded(to: 2)
        text += ":" + String(seconds % 60).leftPadded(to: 2) + "." + String(microsOfDay % 1_000_000).leftPadded(to: 6) + "+00"
        return text
    }
}
