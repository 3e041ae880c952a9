import Foundation
import XCTest

@testable import Tokens

/// The calendar arithmetic RFC 3339 times and the audit trail's timestamps rest on, against
/// Foundation's Gregorian calendar, and the error a person sees for a time that does not parse.
final class CivilDateTests: XCTestCase {
    func testAgreesWithFoundationsCalendarAcrossEraAndLeapYearBoundaries() {
        // From 1600 on: before October 1582 Foundation counts Julian days.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for days: Int64 in [-135_080, -135_081, -1, 0, 1, 59, 10_956, 11_016, 11_017, 19_000, 2_932_896] {
            let date = CivilDate(daysSince1970: days)
            let expected = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(days) * 86_400))
            XCTAssertEqual([date.year, date.month, date.day], [expected.year, expected.month, expected.day].map { Int64($0!) }, "\(days)")
            XCTAssertEqual(date.daysSince1970, days)
        }
        XCTAssertEqual(CivilDate(year: 2000, month: 2, day: 29), CivilDate(daysSince1970: 11_016))
    }

    func testATimeThatDoesNotParseNamesTheExpectedForm() {
        XCTAssertEqual(try RFC3339.date(from: "2025-01-06T10:00:00.25Z"), Date(timeIntervalSince1970: 1_736_157_600.25))
        XCTAssertThrowsError(try RFC3339.date(from: "yesterday")) { error in
            XCTAssertEqual("\(error)", "'yesterday' is not an RFC 3339 time such as 2025-01-06T10:00:00Z")
        }
    }
}
