import Foundation
import Testing

@testable import Gateway

/// What one decision leaves in the audit trail: a policy that erred is recorded whatever the
/// decision (a `forbid` skipped by an error on an allowed request most of all).
@Suite struct AccessRecordTests {
    @Test func policyErrorsAreRecordedOnAnAllowedRequest() throws {
        var record = AccessRecord(requestID: "r1", clientAddress: "127.0.0.1")
        record.outcome = .allow
        record.policyErrors = [#"forbid.suspended: attribute "groups" not found"#]
        let details = try #require(record.event(status: 200).details)
        let object = try JSONSerialization.jsonObject(with: Data(details.utf8)) as? [String: Any]
        #expect(object?["policy_errors"] as? [String] == [#"forbid.suspended: attribute "groups" not found"#])
        #expect(object?["reason"] == nil)
    }

    @Test func aReasonAndErrorsTravelTogetherAndNothingMeansNoDetails() throws {
        var record = AccessRecord(requestID: "r2", clientAddress: "127.0.0.1")
        #expect(record.event(status: 0).details == nil)
        record.reason = "no route"
        record.policyErrors = ["a", "b \"quoted\""]
        let object = try JSONSerialization.jsonObject(with: Data(try #require(record.event(status: 0).details).utf8)) as? [String: Any]
        #expect(object?["reason"] as? String == "no route")
        #expect(object?["policy_errors"] as? [String] == ["a", "b \"quoted\""])
    }
}
