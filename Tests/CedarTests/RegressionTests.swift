import Testing

@testable import Cedar

/// Disagreements with cedarpy 4.12.2 found by scripts/cedar_differential.py, minimized.
@Suite struct RegressionTests {
    func decide(_ policies: String, _ entities: String, _ request: String) throws -> String {
        let set = try PolicySet.parse(policies).get()
        return Authorizer(set).decideJSONLine(request, entities: try Entities.fromJSON(entities))
    }

    /// Seed 7: cedarpy accepts the minimum duration; the sign belongs to the quantity.
    @Test func minimumDurationIsAccepted() throws {
        let line = try decide(
            "permit(principal, action, resource);",
            #"[{"uid": {"type": "User", "id": "a b"}, "attrs": {"ttl": {"__extn": {"fn": "duration", "arg": "-9223372036854775808ms"}}}, "parents": []}]"#,
            #"{"principal": {"type": "User", "id": ""}, "action": {"type": "Action", "id": "write"}, "resource": {"type": "Folder", "id": "d1"}, "context": {"dur": {"__extn": {"fn": "duration", "arg": "-9223372036854775808ms"}}}}"#
        )
        #expect(line == #"{"decision":"Allow","reasons":["policy0"],"errors":[]}"#)
    }

    /// Seed 11: cedarpy rejects a request UID string that is not in normalized form (`Doc :: "d1"`).
    @Test func requestUIDMustBeNormalized() throws {
        let line = try decide(
            "permit(principal, action, resource);", "[]",
            #"{"principal": {"type": "User", "id": ""}, "action": "Action::\"read\"", "resource": "Doc :: \"d1\"", "context": {}}"#)
        #expect(line.hasPrefix(#"{"error":"#))
    }

    /// Seed 11: an action entity whose parent is not an action is rejected at load.
    @Test func actionParentsMustBeActions() {
        #expect(throws: InputError.self) {
            try Entities.fromJSON(
                #"[{"uid": {"__entity": {"type": "Action", "id": "read"}}, "attrs": {}, "parents": [{"type": "Doc", "id": "missing"}]}]"#)
        }
        #expect(throws: Never.self) {
            try Entities.fromJSON(#"[{"uid": {"type": "NS::Action", "id": "read"}, "attrs": {}, "parents": [{"type": "NS::Action", "id": "all"}]}]"#)
        }
    }

    /// Seed 51 (case like-unicode-escaped-star-is-wildcard.json): an escaped star other than `\*` is a wildcard.
    @Test func escapedStarSpellingsInPatterns() throws {
        let request = Request(principal: EntityUID("User", "u"), action: EntityUID("Action", "a"), resource: EntityUID("R", "r"))
        #expect(outcome(of: #""" like "\x2A""#, request: request, entities: .empty) == .value(true))
        #expect(outcome(of: #""axb" like "a\u{2a}b""#, request: request, entities: .empty) == .value(true))
        #expect(outcome(of: #""axb" like "a\*b""#, request: request, entities: .empty) == .value(false))
        #expect(outcome(of: #""a*b" like "a\*b""#, request: request, entities: .empty) == .value(true))
    }
}
