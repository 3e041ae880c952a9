import Testing

@testable import Cedar

@Suite struct AuthorizerTests {
    let alice = EntityUID("User", "alice"), view = EntityUID("Action", "view"), doc = EntityUID("Doc", "d")

    func decide(_ policies: String, _ request: Request? = nil, entities: Entities = .empty) throws -> Response {
        let set = try PolicySet.parse(policies).get()
        return Authorizer(set).isAuthorized(request ?? Request(principal: alice, action: view, resource: doc), entities: entities)
    }

    @Test func defaultDenyAndForbidOverrides() throws {
        #expect(try decide("") == Response(decision: .deny, reasons: [], errors: []))
        #expect(try decide("permit(principal, action, resource);") == Response(decision: .allow, reasons: ["policy0"], errors: []))
        let both = try decide("permit(principal, action, resource);\n@id(\"f\") forbid(principal == User::\"alice\", action, resource);")
        #expect(both == Response(decision: .deny, reasons: ["f"], errors: []))
    }

    @Test func erroringPoliciesAreSkippedAndReported() throws {
        let r = try decide(
            """
            permit(principal, action, resource);
            forbid(principal, action, resource) when { 1 + "a" == 2 };
            permit(principal, action, resource) when { 1 };
            """)
        #expect(r.decision == .allow)
        #expect(r.reasons == ["policy0"])
        #expect(r.errors.map(\.policyID) == ["policy1", "policy2"])
        #expect(r.errors[1].error == .typeError(expected: [.bool], got: "long"))
        #expect(
            r.jsonLine
                == #"{"decision":"Allow","reasons":["policy0"],"errors":[{"policy":"policy1","message":"type error: expected long, got string"},{"policy":"policy2","message":"type error: expected bool, got long"}]}"#
        )
    }

    @Test func scopeIsCheckedBeforeConditions() throws {
        // The scope does not match, so the erroring condition is never evaluated.
        let r = try decide(#"permit(principal == User::"bob", action, resource) when { 1 + "a" == 2 };"#)
        #expect(r == Response(decision: .deny, reasons: [], errors: []))
        // Conditions stop at the first false one.
        let r2 = try decide(#"permit(principal, action, resource) when { false } when { 1 + "a" == 2 };"#)
        #expect(r2.errors.isEmpty)
        let r3 = try decide(#"permit(principal, action, resource) unless { true } when { 1 + "a" == 2 };"#)
        #expect(r3.errors.isEmpty)
    }

    @Test func actionHierarchyComesFromEntityData() throws {
        let entities = try Entities.fromJSON(
            #"[{"uid": {"type": "Action", "id": "view"}, "attrs": {}, "parents": [{"type": "Action", "id": "read"}]}]"#)
        let r = try decide(#"permit(principal, action in [Action::"read"], resource);"#, entities: entities)
        #expect(r.decision == .allow)
        #expect(try decide(#"permit(principal, action in Action::"read", resource);"#).decision == .deny)
    }

    @Test func decideJSONLineReportsBadRequestsInline() throws {
        let set = try PolicySet.parse("permit(principal, action, resource);").get()
        let authorizer = Authorizer(set)
        #expect(
            authorizer.decideJSONLine(
                #"{"principal": {"type": "User", "id": "a"}, "action": "Action::\"v\"", "resource": "R::\"r\"", "context": {}}"#, entities: .empty)
                == #"{"decision":"Allow","reasons":["policy0"],"errors":[]}"#)
        #expect(authorizer.decideJSONLine(#"{"principal": 1}"#, entities: .empty).hasPrefix(#"{"error":"#))
        #expect(
            authorizer.decideJSONLine(
                #"{"principal": "User::\"a\"", "action": "Action::\"v\"", "resource": "R::\"r\"", "context": {"x": 1.5}}"#, entities: .empty
            ).hasPrefix(#"{"error":"#))
        #expect(authorizer.decideJSONLine("not json", entities: .empty).hasPrefix(#"{"error":"#))
    }

    /// Differential case jsonl-raw-u2028-in-string.json: only "\n" ends a JSON Lines record.
    @Test func jsonLinesSplitOnlyAtNewline() {
        let text = "{\"s\": \"a\u{2028}b\u{85}c\"}\r\n\n  \n{\"t\": 1}"
        #expect(jsonLines(text) == ["{\"s\": \"a\u{2028}b\u{85}c\"}", "{\"t\": 1}"])
    }

    /// The index must never change a decision, the reasons or the error set.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func indexedAndUnindexedEvaluationAgree(seed: UInt64) throws {
        var g = PolicyGenerator(seed: seed)
        for _ in 0..<10 {
            let entities = try g.entities()
            let text = PolicyFormatter.format((0..<40).map { _ in g.policy() })
            let set = try PolicySet.parse(text).get()
            let authorizer = Authorizer(set)
            for _ in 0..<50 {
                let request = g.request()
                let indexed = authorizer.isAuthorized(request, entities: entities)
                let full = authorizer.isAuthorized(request, entities: entities, useIndex: false)
                #expect(indexed == full, "seed \(seed): \(request)")
            }
        }
    }

    @Test func indexSkipsPoliciesPinnedElsewhere() throws {
        let text = (0..<1000).map { #"permit(principal == User::"u\#($0)", action, resource) when { 1 + "a" == 2 };"# }.joined(separator: "\n")
        let set = try PolicySet.parse(text).get()
        let index = PolicyIndex(set.policies.map(CompiledPolicy.init))
        let request = Request(principal: EntityUID("User", "u7"), action: view, resource: doc)
        #expect(index.candidates(request, .empty) == [7])
        let r = Authorizer(set).isAuthorized(request, entities: .empty)
        #expect(r.errors.map(\.policyID) == ["policy7"])
    }
}
