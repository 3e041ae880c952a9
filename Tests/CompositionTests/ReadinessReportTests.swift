import Testing

@testable import Composition

/// `/readyz` fails closed when two checks share a name and only one of them is healthy.
@Suite struct ReadinessReportTests {
    struct Check: ReadinessCheck {
        let name: String
        let answer: String?
        let delay: Duration

        func problem() async -> String? {
            try? await Task.sleep(for: delay)
            return answer
        }
    }

    @Test(arguments: [(Duration.zero, Duration.milliseconds(50)), (.milliseconds(50), .zero)])
    func aProblemUnderASharedNameIsNeverOverwrittenByAHealthyCheck(problemDelay: Duration, healthyDelay: Duration) async {
        let report = await ReadinessReport.gather([
            Check(name: "audit", answer: "events are discarded", delay: problemDelay),
            Check(name: "audit", answer: nil, delay: healthyDelay),
            Check(name: "database", answer: nil, delay: .zero),
        ])
        #expect(!report.isReady)
        #expect(report.problems["audit"] == .some("events are discarded"))
        #expect(report.problems["database"] == .some(nil))
    }
}
