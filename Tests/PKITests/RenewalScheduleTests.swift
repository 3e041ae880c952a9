import Foundation
import Testing

@testable import PKI

@Suite struct RenewalScheduleTests {
    /// An hour-long certificate renews at 40 minutes.
    @Test func twoThirdsOfTheLifetime() {
        let start = Date(timeIntervalSince1970: 1_000_000)
        #expect(RenewalSchedule.nextRenewal(notBefore: start, notAfter: start + 3600) == start + 2400)
        #expect(RenewalSchedule.nextRenewal(obtainedAt: start, notBefore: start, notAfter: start + 3600) == start + 2400)
    }

    /// notBefore is backdated a minute; a six-second certificate must still renew four seconds
    /// after it was obtained, not at once (which would renew in a loop).
    @Test func aBackdatedShortLivedCertificateRenewsFromWhenItWasObtained() {
        let obtained = Date(timeIntervalSince1970: 2_000_000)
        let due = RenewalSchedule.nextRenewal(obtainedAt: obtained, notBefore: obtained - 60, notAfter: obtained + 6)
        #expect(due == obtained + 4)
        #expect(RenewalSchedule.nextRenewal(notBefore: obtained - 60, notAfter: obtained + 6) < obtained)
        // A file written before notBefore (clock skew) counts from notBefore; one written after expiry renews now.
        #expect(RenewalSchedule.nextRenewal(obtainedAt: obtained - 120, notBefore: obtained - 60, notAfter: obtained + 30) == obtained)
        #expect(RenewalSchedule.nextRenewal(obtainedAt: obtained + 100, notBefore: obtained - 60, notAfter: obtained + 30) == obtained + 30)
    }
}
