import Testing

@testable import Gateway

/// A body's deadline and minimum rate (issue 18, item 11): one byte every 25 s must be cut off
/// however long each pause is, and a body that starts slowly must not be.
@Suite struct BodyPaceTests {
    let pace = BodyPace(timeout: .seconds(60), minimumBytesPerSecond: 1000)

    @Test func nothingIsCheckedDuringTheGracePeriod() {
        #expect(pace.violation(received: 0, elapsed: .milliseconds(4_900)) == nil)
    }

    @Test func afterTheGracePeriodTheAverageRateMustHold() {
        #expect(pace.violation(received: 5_000, elapsed: .seconds(5)) == nil)
        #expect(pace.violation(received: 4_999, elapsed: .seconds(5)) == .tooSlow(bytesPerSecond: 999, minimum: 1000))
        // The trickle: one byte every 25 s.
        #expect(pace.violation(received: 1, elapsed: .seconds(25)) == .tooSlow(bytesPerSecond: 0, minimum: 1000))
    }

    @Test func theDeadlineHoldsWhateverTheRate() {
        #expect(pace.violation(received: 10_000_000, elapsed: .seconds(61)) == .deadlineExceeded(.seconds(60)))
        let deadlineOnly = BodyPace(timeout: .seconds(3), minimumBytesPerSecond: 0)
        #expect(deadlineOnly.violation(received: 0, elapsed: .seconds(3)) == nil)
        #expect(deadlineOnly.violation(received: 0, elapsed: .milliseconds(3_001)) == .deadlineExceeded(.seconds(3)))
    }

    @Test func theDefaultsAreDocumented() {
        #expect(BodyPace.standard == BodyPace(timeout: .seconds(120), minimumBytesPerSecond: 1024))
        #expect(BodyPace.gracePeriod == .seconds(5))
    }
}
