import Foundation
import Testing

@testable import Cedar

/// One rule per test; expectations checked against cedarpy 4.12.2 (see Fixtures/ValidationRegressions/probe-*.json).
@Suite struct ValidatorTests {
    static let schema = try! CedarSchema.parse(
        """
        type Ctx = { ip: ipaddr, flag?: Bool, rec: { a: Long, b?: String }, when: datetime };
        entity Group in [Group];
        entity User in [Group] { age: Long, nick?: String, boss?: User, info: { x: Long, y?: { z: Long } } } tags String;
        entity Doc { owner: User, level: Long };
        entity Color enum ["red", "blue"];
        action view appliesTo { principal: [User], resource: [Doc], context: Ctx };
        action edit in [view] appliesTo { principal: User, resource: Doc };
        action noapply;
        """, file: "test.cedarschema")

    func diagnostics(_ policies: String) -> [ValidationDiagnostic] {
        guard case .success(let set) = PolicySet.parse(policies, name: "p.cedar") else {
            Issue.record("parse error in \(policies)")
            return []
        }
        return Validator(schema: Self.schema).validate(set)
    }

    func errors(_ policies: String) -> [ValidationDiagnostic] { diagnostics(policies).filter { $0.severity == .error } }

    func when(_ condition: String) -> [ValidationDiagnostic] {
        errors("permit(principal, action, resource) when { \(condition) };")
    }

    /// Passes, or fails with a message containing `message`.
    func expect(_ condition: String, rejectedWith message: String?, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let found = when(condition)
        if let message {
            #expect(found.contains { $0.message.contains(message) }, "\(condition): \(found)", sourceLocation: sourceLocation)
        } else {
            #expect(found.isEmpty, "\(condition): \(found)", sourceLocation: sourceLocation)
        }
    }

    @Test func acceptsWellTypedPolicies() {
        expect("principal.age > 3 && resource.owner.age < principal.age", rejectedWith: nil)
        #expect(
            errors(
                #"permit(principal, action == Action::"view", resource) when { context.ip.isInRange(ip("10.0.0.0/8")) && context.when < datetime("2030-01-01") };"#
            ).isEmpty)
        expect("principal in resource.owner && principal in Group::\"g\"", rejectedWith: nil)
        expect("principal.hasTag(\"t\") && principal.getTag(\"t\") like \"a*\"", rejectedWith: nil)
    }

    @Test func unknownNames() {
        expect(#"principal == Foo::"x""#, rejectedWith: "unrecognized entity type `Foo`")
        expect(#"principal is Foo"#, rejectedWith: "unrecognized entity type `Foo`")
        expect(#"action == Action::"nope""#, rejectedWith: "unrecognized action `Action::\"nope\"`")
        expect(#"resource == Color::"green""#, rejectedWith: "is of an enumerated entity type, but `\"green\"` is not declared")
        expect(#"resource == Color::"red" || true"#, rejectedWith: nil)
    }

    @Test func attributes() {
        expect("principal.height > 1", rejectedWith: "attribute `height` on entity type `User` not found")
        expect("context.nope", rejectedWith: "attribute `nope` in context for Action::\"edit\" not found")
        expect("principal has height && principal.height > 1", rejectedWith: nil)
        expect("action.foo", rejectedWith: "attribute `foo` on entity type `Action` not found")
    }

    @Test func optionalAttributesNeedAGuard() {
        expect(#"principal.nick == "a""#, rejectedWith: "unable to guarantee safety of access to optional attribute `nick`")
        expect(#"principal has nick && principal.nick == "a""#, rejectedWith: nil)
        expect(#"if principal has nick then principal.nick == "a" else false"#, rejectedWith: nil)
        expect(#"(principal has nick || principal has nick) && principal.nick == "a""#, rejectedWith: nil)
        expect(#"(principal has nick || principal has age) && principal.nick == "a""#, rejectedWith: "optional attribute `nick`")
        expect(#"!(principal has nick) || principal.nick == "a""#, rejectedWith: "optional attribute `nick`")
        expect("principal has info.y.z && principal.info.y.z > 1", rejectedWith: nil)
        expect("principal.info.y.z > 1", rejectedWith: "optional attribute `y`")
        expect(#"context has rec.b && context.rec.b == "x""#, rejectedWith: nil)
        expect("principal has boss && principal.boss has boss && principal.boss.boss.age > 1", rejectedWith: nil)
        // Facts carry across `when` clauses joined by `&&`, not out of a negated `unless`.
        #expect(errors(#"permit(principal, action, resource) when { principal has nick } when { principal.nick == "a" };"#).isEmpty)
        #expect(!errors(#"permit(principal, action, resource) unless { !(principal has nick) } when { principal.nick == "a" };"#).isEmpty)
    }

    @Test func tags() {
        expect(#"principal.getTag("a") == "x""#, rejectedWith: "unable to guarantee safety of access to tag `\"a\"`")
        expect(#"resource.hasTag("a") && resource.getTag("a") == "x""#, rejectedWith: nil)  // hasTag is always false on Doc
        expect(#"principal.hasTag("a") && principal.getTag("b") == "x""#, rejectedWith: "tag `\"b\"`")
    }

    @Test func operators() {
        expect(#"principal.age + "a" > 1"#, rejectedWith: "expected Long but saw String")
        expect(#"ip("1.2.3.4") < ip("1.2.3.5")"#, rejectedWith: "expected datetime, or duration, or Long but saw ipaddr")
        expect(#"decimal("1.0") < decimal("2.0")"#, rejectedWith: "but saw decimal")
        expect("principal.age.contains(1)", rejectedWith: "expected Set<__cedar::internal::Any> but saw Long")
        expect(#"1 like "x""#, rejectedWith: "expected String but saw Long")
        expect("!1", rejectedWith: "expected Bool but saw Long")
        expect(#"if principal.age > 1 then 1 else "a""#, rejectedWith: "the types Long and String are not compatible")
        expect("[1,2].containsAll([\"a\"])", rejectedWith: "not compatible")
    }

    @Test func equalityAndIn() {
        expect(#"principal.age == "a""#, rejectedWith: "the types Long and String are not compatible")
        expect(#"1 == "a""#, rejectedWith: nil)  // two literals: simply false
        expect(#""x" == (false && false)"#, rejectedWith: nil)  // Cedar folds `&&` of literals into a literal
        expect(#""x" == !true"#, rejectedWith: "not compatible")  // …but not `!`
        expect("principal == resource", rejectedWith: nil)  // different entity types: false, not an error
        expect("resource in principal", rejectedWith: nil)  // impossible hierarchy: false, not an error
        expect("{a: 1} == {a: 1, b: 2}", rejectedWith: "not compatible")
        expect(#"Action::"view" in [Action::"view", Group::"x"]"#, rejectedWith: "the types Action and Group are not compatible")
    }

    @Test func setsAndExtensions() {
        expect("[] == []", rejectedWith: "empty set literals are forbidden")
        expect("[1, true] == [1]", rejectedWith: "not compatible")
        expect("ip(principal.nick) == ip(\"1.1.1.1\")", rejectedWith: "extension constructors may not be called with non-literal expressions")
        expect(#"ip("1.2.3.400").isIpv4()"#, rejectedWith: "failed to parse as IP address: `\"1.2.3.400\"`")
        expect(#"duration("1y") == duration("1h")"#, rejectedWith: "failed to parse as a duration value")
        expect(#"ip("1.2.3.4").isIpv4(1)"#, rejectedWith: "wrong number of arguments in extension function application. Expected 1, got 2")
        expect("ip(1) == ip(\"1.1.1.1\")", rejectedWith: "expected String but saw Long")
    }

    @Test func shortCircuitingSkipsWhatNeverRuns() {
        expect(#"false && (1 + "a" == 2)"#, rejectedWith: nil)
        expect(#"action == Action::"noapply" && principal.nick == "a""#, rejectedWith: nil)
        expect(#"principal is Doc && principal.level > 1"#, rejectedWith: nil)
        expect(#"if false then 1 + "a" else true"#, rejectedWith: nil)
    }

    @Test func scopes() {
        #expect(
            errors(#"permit(principal == Doc::"x", action, resource);"#).map(\.message) == [
                "unable to find an applicable action given the policy scope constraints"
            ])
        #expect(!errors(#"permit(principal, action == Action::"noapply", resource);"#).isEmpty)
        // `edit` is in the `view` group and its context has no `ip`.
        #expect(
            errors(#"permit(principal, action in Action::"view", resource) when { context.ip.isIpv4() };"#).map(\.message)
                == [#"attribute `ip` in context for Action::"edit" not found"#])
        #expect(errors(#"permit(principal, action == Action::"view", resource) when { context.ip.isIpv4() };"#).isEmpty)
        #expect(!errors(#"permit(principal, action in Action::"nope", resource);"#).isEmpty)
        #expect(errors(#"permit(principal is User in Group::"g", action, resource is Doc);"#).isEmpty)
    }

    @Test func templatesValidate() {
        #expect(errors("permit(principal in ?principal, action, resource == ?resource);").isEmpty)
        #expect(errors(#"permit(principal == ?principal, action, resource) when { principal.nick == "a" };"#).count == 1)
        #expect(!errors("permit(principal is Doc in ?principal, action, resource);").isEmpty)
    }

    @Test func impossiblePoliciesAreOnlyWarnings() {
        let d = diagnostics("permit(principal, action, resource) when { false };")
        #expect(d.count == 1 && d[0].severity == .warning)
    }

    @Test func errorsNamePolicyLineAndColumn() {
        let found = errors(
            """
            @id("first")
            permit(principal, action, resource);
            permit(principal, action, resource)
            when {
              principal.age > 1 &&
                principal.nick == "a"
            };
            """)
        #expect(found.count == 1)
        #expect(found.first?.policyID == "policy1")
        #expect(found.first?.location == SourceLocation(file: "p.cedar", line: 6, column: 5))
        #expect(found.first?.description.hasPrefix("p.cedar:6:5: error: policy `policy1`: unable to guarantee") == true)
    }

    @Test func locationsSurviveEveryKindOfNode() {
        // Deep in a record in a set in a call: the error points at `principal.nick`.
        let found = when(#"[{a: if true then -principal.age else 2 * 3}].contains({a: principal.nick})"#)
        // …and the incompatible element type at the `.contains` call, which starts the condition.
        #expect(Set(found.map(\.location.column)) == [44 + 59, 44])
    }

    /// Every stored case (probes and past differential mismatches) with cedarpy's answer.
    @Test func regressionsMatchCedarpy() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/ValidationRegressions")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count > 300)
        for file in files {
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            let c = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
            let text = try #require(c["schema"] as? String)
            let policies = try #require(c["policies"] as? String)
            let wantPassed = try #require(c["passed"] as? Bool)
            let wantFailing = try #require(c["failing"] as? [String])
            var failing = Set<String>()
            do {
                let schema = c["format"] as? String == "json" ? try CedarSchema.parseJSON(text) : try CedarSchema.parse(text)
                switch PolicySet.parse(policies) {
                case .failure: failing.insert("")
                case .success(let set):
                    for d in Validator(schema: schema).validate(set) where d.severity == .error { failing.insert(d.policyID) }
                }
            } catch {
                failing.insert("")
            }
            #expect(failing.isEmpty == wantPassed && failing.sorted() == wantFailing, "\(file): \(policies)")
        }
    }
}
