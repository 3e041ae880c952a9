import Foundation
import Testing

@testable import Cedar

@Suite struct ExplanationTests {
    let alice = EntityUID("User", "alice"), view = EntityUID("Action", "view"), doc = EntityUID("Doc", "d")

    func explain(_ policies: String, context: [CedarString: Value] = [:], entities: Entities = .empty) throws -> Explanation {
        let set = try PolicySet.parse(policies, name: "p.cedar").get()
        return Authorizer(set).explain(Request(principal: alice, action: view, resource: doc, context: context), entities: entities)
    }

    func outcome(_ e: Explanation, _ id: String) -> PolicyOutcome? { e.policies.first { $0.id == id }?.outcome }

    @Test func namesTheScopePartsThatMissed() throws {
        let e = try explain(
            """
            @id("p") permit(principal == User::"bob", action, resource);
            @id("a") permit(principal, action == Action::"edit", resource is Folder);
            @id("all") permit(principal, action, resource == Doc::"d");
            """)
        #expect(outcome(e, "p") == .scopeMismatch([.principal]))
        #expect(outcome(e, "a") == .scopeMismatch([.action, .resource]))
        #expect(outcome(e, "all") == .satisfied)
        #expect(e.response == Response(decision: .allow, reasons: ["all"], errors: []))
    }

    @Test func namesTheFalseClauseWhenOrUnless() throws {
        let e = try explain(
            """
            @id("w") permit(principal, action, resource)
              when { context.n == 1 }
              when { context.n > 5 };
            @id("u") forbid(principal, action, resource)
              unless { context.n == 1 };
            """, context: ["n": .long(1)])
        guard case .conditionFalse(let clause) = outcome(e, "w") else {
            Issue.record("\(e.policies)")
            return
        }
        #expect(clause.number == 2)
        #expect(clause.kind == .when)
        #expect(clause.text == "context.n > 5")
        #expect(clause.location == SourceLocation(file: "p.cedar", line: 3, column: 10))
        guard case .conditionFalse(let unless) = outcome(e, "u") else {
            Issue.record("\(e.policies)")
            return
        }
        #expect(unless.number == 1)
        #expect(unless.kind == .unless)
        #expect(unless.description == "unless { context.n == 1 }")
        #expect(e.response.decision == .deny)
    }

    @Test func reportsTheErroringClauseWithItsMessage() throws {
        let e = try explain(
            """
            @id("ok") permit(principal, action, resource);
            @id("bad") forbid(principal, action, resource) when { true } when { context.missing == 1 };
            """)
        guard case .error(let clause, let error) = outcome(e, "bad") else {
            Issue.record("\(e.policies)")
            return
        }
        #expect(clause.number == 2)
        #expect(error == .attributeDoesNotExist(owner: "record", attribute: "missing"))
        #expect(e.response.decision == .allow)
        #expect(e.response.errors.map(\.policyID) == ["bad"])
    }

    @Test func forbidsOverridePermitsThatStillApplied() throws {
        let e = try explain(
            """
            @id("p") permit(principal, action, resource);
            @id("f") forbid(principal in Group::"g", action, resource);
            """, entities: try Entities([Entity(uid: alice, parents: [EntityUID("Group", "g")])]))
        #expect(outcome(e, "p") == .satisfied)
        #expect(outcome(e, "f") == .satisfied)
        #expect(e.response == Response(decision: .deny, reasons: ["f"], errors: []))
    }

    /// On generated policy sets the explanation's decision, reasons and errors are exactly
    /// `isAuthorized`'s, and every policy's outcome agrees with its membership in them.
    @Test func agreesWithIsAuthorizedOnGeneratedSets() throws {
        var g = PolicyGenerator(seed: 2024)
        for _ in 0..<300 {
            let text = PolicyFormatter.format((0..<(1 + g.int(24))).map { _ in g.policy() })
            guard let set = parsed(text) else { continue }
            let entities = try g.entities()
            let request = g.request()
            let authorizer = Authorizer(set)
            let explanation = authorizer.explain(request, entities: entities)
            let response = authorizer.isAuthorized(request, entities: entities)
            #expect(explanation.response == response, "\(text)")
            let satisfied = Set(explanation.policies.filter { $0.outcome == .satisfied }.map(\.id))
            #expect(Set(response.reasons).isSubset(of: satisfied))
            let erred = explanation.policies.compactMap { p -> String? in if case .error = p.outcome { return p.id } else { return nil } }
            #expect(erred == response.errors.map(\.policyID))
        }
    }
}

/// Explanations against the reference engine: on generated sets, the decision and the
/// determining and erroring policies `explain` reports equal cedarpy's `is_authorized`.
@Suite struct ExplanationDifferentialTests {
    static let script = #"""
        import json, re, sys
        from cedarpy import is_authorized
        out = []
        for case in json.load(open(sys.argv[1])):
            r = is_authorized(case["request"], case["policies"], case["entities"])
            errors = sorted(set(re.findall(r"error while evaluating policy `([^`]+)`", "\n".join(r.diagnostics.errors))))
            out.append({"decision": str(r.decision).split(".")[-1], "reasons": sorted(r.diagnostics.reasons), "errors": errors})
        json.dump(out, sys.stdout)
        """#

    @Test func explainAgreesWithCedarpy() throws {
        let environment = ProcessInfo.processInfo.environment
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let python = environment["PORTCULLIS_PYTHON"] ?? repo.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("no Python with cedarpy at \(python): run scripts/test or set PORTCULLIS_PYTHON")
            return
        }
        var g = PolicyGenerator(seed: 77)
        let types = ["User", "Group", "Doc"]
        let ids = ["a", "b", "c"]
        func uid() -> (String, String) { (g.pick(types), g.pick(ids)) }
        func json(_ u: (String, String)) -> [String: Any] { ["type": u.0, "id": u.1] }
        var cases: [[String: Any]] = []
        var ours: [Explanation] = []
        while cases.count < 60 {
            let text = PolicyFormatter.format((0..<(2 + g.int(10))).map { _ in g.policy() })
            guard let set = parsed(text) else { continue }
            // Entities over a small vocabulary; parents only to earlier entities, so no cycles.
            var entities: [[String: Any]] = []
            var made: [(String, String)] = []
            for t in types {
                for i in ids where g.chance(0.6) {
                    var attrs: [String: Any] = [:]
                    if g.chance(0.6) { attrs["level"] = g.int(10) }
                    if g.chance(0.5) { attrs["owner"] = ["__entity": json(uid())] }
                    let parents = made.isEmpty ? [] : (0..<g.int(3)).map { _ in json(g.pick(made)) }
                    entities.append(["uid": json((t, i)), "attrs": attrs, "parents": parents])
                    made.append((t, i))
                }
            }
            for a in ["view", "edit", "read"] {
                entities.append([
                    "uid": ["type": "Action", "id": a], "attrs": [:] as [String: Any],
                    "parents": g.chance(0.5) ? [["type": "Action", "id": "all"]] : [],
                ])
            }
            let request: [String: Any] = [
                "principal": json(uid()), "action": ["type": "Action", "id": g.pick(["view", "edit", "read", "all"])],
                "resource": json(uid()), "context": ["n": g.int(5), "flag": g.chance(0.5)],
            ]
            let store = try Entities.fromJSON(String(decoding: try JSONSerialization.data(withJSONObject: entities), as: UTF8.self))
            let cedarRequest = try Request.fromJSON(String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self))
            ours.append(Authorizer(set).explain(cedarRequest, entities: store))
            cases.append(["policies": text, "entities": entities, "request": request])
        }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("explain-differential-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: cases).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", Self.script, input.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        try? output.fileHandleForReading.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let reference = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(reference.count == ours.count)
        var allowed = 0
        var erred = 0
        for (n, (theirs, mine)) in zip(reference, ours).enumerated() {
            let response = mine.response
            #expect(theirs["decision"] as? String == response.decision.rawValue, "case \(n): \(cases[n])")
            #expect(theirs["reasons"] as? [String] == response.reasons.sorted(), "case \(n): \(cases[n])")
            #expect(theirs["errors"] as? [String] == Set(response.errors.map(\.policyID)).sorted(), "case \(n): \(cases[n])")
            if response.decision == .allow { allowed += 1 }
            if !response.errors.isEmpty { erred += 1 }
        }
        // The generator must exercise both decisions and errors, or the comparison proves little.
        #expect(allowed > 0 && allowed < ours.count && erred > 0)
    }
}
