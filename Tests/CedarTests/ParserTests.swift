import Testing

@testable import Cedar

@Suite struct ParserTests {
    @Test func parseErrorsCarryFileLineColumnAndExpectation() {
        let errors = parseErrors("permit(principal, action, resource)\nwhen { context.x == }\n;")
        #expect(errors.count == 1)
        #expect(errors.first?.location == SourceLocation(file: "test.cedar", line: 2, column: 21))
        #expect(errors.first?.message.contains("expected an expression") == true)
        #expect(errors.first?.description.hasPrefix("test.cedar:2:21: error:") == true)
    }

    @Test func missingSemicolonIsAnError() {
        #expect(parseErrors("permit(principal, action, resource)").first?.message.contains("`;`") == true)
    }

    @Test func oneBadPolicyRejectsTheWholeSet() {
        let text = "permit(principal, action, resource);\nforbid(principal, action, resource) when { 1 < 2 < 3 };"
        #expect(parsed(text) == nil)
    }

    @Test func errorsFromEveryFileAreReported() {
        let result = PolicySet.parse([
            PolicySource(name: "a.cedar", text: "permit(principal, action, resource) when { };"),
            PolicySource(name: "b.cedar", text: "permit(principal, action, resource);"),
            PolicySource(name: "c.cedar", text: "forbid(principal, action,\n  resource) when { 1 / 2 };"),
        ])
        guard case .failure(let e) = result else {
            Issue.record("expected failure")
            return
        }
        #expect(e.errors.map(\.location.file) == ["a.cedar", "c.cedar"])
        #expect(e.errors[1].location.line == 2)
        #expect(e.errors[1].message == "division is not supported")
    }

    @Test func scopeForms() throws {
        let text = """
            permit(principal == User::"a", action == Action::"v", resource == Doc::"d");
            permit(principal in Group::"g", action in Action::"grp", resource in Folder::"f");
            permit(principal is User, action in [Action::"a", NS::Action::"b",], resource is NS::Doc in Folder::"f",);
            permit(principal is User in Group::"g", action, resource);
            """
        let set = try #require(parsed(text))
        #expect(set.policies.count == 4)
        #expect(set.policies[2].policy.action == .inList([EntityUID("Action", "a"), EntityUID("NS::Action", "b")]))
        #expect(set.policies[2].policy.resource == .isTypeIn(EntityType("NS::Doc"), .uid(EntityUID("Folder", "f"))))
        #expect(set.policies[3].policy.principal == .isTypeIn(EntityType("User"), .uid(EntityUID("Group", "g"))))
    }

    @Test(arguments: [
        "permit(principal is User == User::\"a\", action, resource);",
        "permit(principal in User::\"a\" is User, action, resource);",
        "permit(principal in [User::\"a\"], action, resource);",
        "permit(principal, action == User::\"a\", resource);",
        "permit(principal, action is Action, resource);",
        "permit(principal: User, action, resource);",
        "permit(action, principal, resource);",
        "allow(principal, action, resource);",
        "permit(principal, action, resource) when {};",
        "permit(principal, action, resource) if { true };",
        "permit(principal == ?resource, action, resource);",
        "permit(principal, action, resource) when { principal == ?principal };",
        "permit(principal, action, resource) when { ?other };",
        "@a(\"1\") @a(\"2\") permit(principal, action, resource);",
        "permit(principal, action, resource) when { !!!!!true };",
        "permit(principal, action, resource) when { !-1 };",
        "permit(principal, action, resource) when { context.if };",
        "permit(principal, action, resource) when { {if: 1} };",
        "permit(principal, action, resource) when { has if };",
        "permit(principal, action, resource) when { principal has if };",
        "permit(principal, action, resource) when { context[context.a] };",
        "permit(principal, action, resource) when { (context)(1) };",
        "permit(principal, action, resource) when { Foo.bar };",
        "permit(principal, action, resource) when { [,] };",
        "permit(principal, action, resource) when { \"a\".ip() };",
        "permit(principal, action, resource) when { [].contains() };",
        "permit(principal, action, resource) when { [].isEmpty(1) };",
        "permit(principal, action, resource) when { context.foo() };",
        "permit(principal, action, resource) when { x };",
        "permit(principal, action, resource) when { if::\"a\" == 1 };",
        "permit(principal, action, resource) when { __cedar::X::\"a\" };",
        "permit(principal, action, resource) when { a = 1 };",
        "permit(principal, action, resource) when { 1 % 2 };",
        "permit(principal, action, resource) when { \"a\" like context.p };",
        "permit(principal, action, resource) when { 1 & 2 };",
        "permit(principal, action, resource) /* c */;",
        "permit(principal, action, resource) when { 1abc };",
        "permit(principal, action, resource) when { principal is User is User };",
        "permit(principal, action, resource) when { true } ;;",
    ])
    func rejected(_ text: String) {
        #expect(!parseErrors(text).isEmpty, "accepted: \(text)")
    }

    @Test(arguments: [
        "@if @permit(\"x\") @id(\"a\") permit(principal, action, resource);",
        "permit(principal, action, resource,);",
        "permit(principal, action, resource) when { true } unless { false } when { true };",
        "permit(principal, action, resource) when { permit::\"x\" == when::\"y\" };",
        "permit(principal, action, resource) when { {when: 2}.when == 2 };",
        "permit(principal, action, resource) when { A :: B :: \"x\" == A::B::\"x\" };",
        "permit(principal, action, resource) when { A :: // comment\n B::\"x\" == A::B::\"x\" };",
        "permit(principal, action, resource) when { [1, 2,] == [1, 2] && {a: 1,} == {a: 1} && ip(\"1.2.3.4\",).isIpv4() };",
        "permit(principal, action, resource) when { context has a.b.c };",
        "permit(principal, action, resource) when { context has \"if\" };",
        "permit(principal, action, resource) when { principal is NS::User in Group::\"g\" };",
        "permit(principal, action, resource) when { \"line\nbreak\" == \"x\" };",
        "permit(principal, action, resource) when { \"cont\\\n    inued\" == \"continued\" };",
        "permit(principal, action, resource) when { -9223372036854775808 < 0 };",
        "permit(principal, action, resource) when { ----1 == 1 };",
        "permit(principal, action, resource) when { !!!!true };",
        "permit(principal, action in [], resource);",
    ])
    func accepted(_ text: String) {
        #expect(parseErrors(text).isEmpty, "rejected: \(text): \(parseErrors(text))")
    }

    @Test func integerLiteralFolding() throws {
        #expect(try parseExpression("-9223372036854775808").get() == .literal(.long(.min)))
        #expect(try parseExpression("--1").get() == .negate(.literal(.long(-1))))
        #expect(try parseExpression("-(1)").get() == .negate(.literal(.long(1))))
        #expect(try parseExpression("-1.foo").get() == .negate(.getAttribute(.literal(.long(1)), "foo")))
        #expect(throws: ParseError.self) { try parseExpression("9223372036854775808").get() }
        #expect(throws: ParseError.self) { try parseExpression("-9223372036854775809").get() }
        #expect(throws: ParseError.self) { try parseExpression("-(9223372036854775808)").get() }
    }

    @Test func precedence() throws {
        // `if` extends as far right as possible.
        #expect(
            try parseExpression("if true then 1 else 2 == 1").get()
                == .ifThenElse(.literal(.bool(true)), .literal(.long(1)), .binary(.equal, .literal(.long(2)), .literal(.long(1)))))
        #expect(try parseExpression("principal || action && resource").get() == parseExpression("principal || (action && resource)").get())
        #expect(try parseExpression("1 + 2 * 3 == 7").get() == parseExpression("(1 + (2 * 3)) == 7").get())
        #expect(
            try parseExpression("1 - 2 - 3").get()
                == .add(
                    .literal(.long(1)),
                    [AdditiveTerm(subtract: true, operand: .literal(.long(2))), AdditiveTerm(subtract: true, operand: .literal(.long(3)))]))
        #expect(try parseExpression("!context.b").get() == parseExpression("!(context.b)").get())
        #expect(
            try parseExpression("principal is User in Group::\"g\" && true").get()
                == .and([.isType(.variable(.principal), EntityType("User"), in: .literal(.entity(EntityUID("Group", "g")))), .literal(.bool(true))]))
        #expect(
            try parseExpression("(1 + 2) + 3").get()
                == .add(
                    .add(.literal(.long(1)), [AdditiveTerm(subtract: false, operand: .literal(.long(2)))]),
                    [AdditiveTerm(subtract: false, operand: .literal(.long(3)))]))
    }

    @Test func stringEscapes() throws {
        #expect(try parseExpression(#""\n\r\t\\\0\'\"""#).get() == .literal(.string("\n\r\t\\\0'\"")))
        #expect(try parseExpression(#""\x41\u{1F600}\u{0}""#).get() == .literal(.string("A\u{1F600}\u{0}")))
        for bad in [#""\q""#, #""\x80""#, #""\u{D800}""#, #""\u{110000}""#, #""\u{}""#, #""\u{1234567}""#, #""\x4""#] {
            #expect(throws: ParseError.self, "\(bad)") { try parseExpression(bad).get() }
        }
        #expect(
            try parseExpression(#""a*b" like "a\*b""#).get()
                == .like(.literal(.string("a*b")), Pattern([.scalar("a"), .scalar("*"), .scalar("b")])))
        #expect(try parseExpression(#"context like "a*""#).get() == .like(.variable(.context), Pattern([.scalar("a"), .wildcard])))
    }

    @Test func templatesAndLinks() throws {
        var set = try #require(
            parsed(
                """
                @id("t") permit(principal == ?principal, action == Action::"view", resource in ?resource);
                permit(principal, action, resource) when { false };
                """))
        #expect(set.templates.count == 1 && set.policies.count == 1)
        #expect(set.templates[0].policy.slots == [.principal, .resource])
        #expect(set.policies[0].id == "policy1")
        let alice = EntityUID("User", "alice")
        let bob = EntityUID("User", "bob")
        let album = EntityUID("Album", "a")
        let request = Request(principal: alice, action: EntityUID("Action", "view"), resource: album)
        // An unlinked template authorizes nothing.
        #expect(Authorizer(set).isAuthorized(request, entities: .empty).decision == .deny)
        try set.link(template: "t", newID: "t-alice", values: [.principal: alice, .resource: album])
        try set.link(template: "t", newID: "t-bob", values: [.principal: bob, .resource: album])
        let response = Authorizer(set).isAuthorized(request, entities: .empty)
        #expect(response.decision == .allow && response.reasons == ["t-alice"])
        #expect(throws: PolicySet.LinkError.duplicateID("t-bob")) {
            try set.link(template: "t", newID: "t-bob", values: [.principal: bob, .resource: album])
        }
        #expect(throws: PolicySet.LinkError.unknownTemplate("nope")) {
            try set.link(template: "nope", newID: "x", values: [:])
        }
        #expect(throws: PolicySet.LinkError.self) { try set.link(template: "t", newID: "y", values: [.principal: bob]) }
    }

    @Test func policyIDsAreAnnotationOrGlobalPosition() throws {
        let result = PolicySet.parse([
            PolicySource(name: "a.cedar", text: "permit(principal, action, resource);\n@id(\"named\") forbid(principal, action, resource);"),
            PolicySource(name: "b.cedar", text: "permit(principal, action, resource);"),
        ])
        let set = try result.get()
        #expect(set.policies.map(\.id) == ["policy0", "named", "policy2"])
        #expect(
            parseErrors("@id(\"x\") permit(principal, action, resource);\n@id(\"x\") permit(principal, action, resource);").first?.message.contains(
                "duplicate policy id") == true)
        #expect(!parseErrors("permit(principal, action, resource);\n@id(\"policy0\") permit(principal, action, resource);").isEmpty)
        // Ids compare by scalars (differential case policy-ids-unicode-distinct.json).
        let ids = try PolicySet.parse("@id(\"\u{e9}\") permit(principal, action, resource);\n@id(\"e\u{301}\") permit(principal, action, resource);")
            .get()
        #expect(ids.policies.count == 2)
        // A byte-order mark is not whitespace (differential case policies-utf8-bom-rejected.json).
        #expect(!parseErrors("\u{FEFF}permit(principal, action, resource);").isEmpty)
    }

    @Test func requestEntityStringsMustBeNormalized() {
        #expect(throws: InputError.self) {
            try Request.fromJSON(#"{"principal": "User :: \"a\"", "action": "Action::\"v\"", "resource": "R::\"r\""}"#)
        }
        #expect(throws: InputError.self) {
            try Request.fromJSON(#"{"principal": "User::\"\\u{61}\"", "action": "Action::\"v\"", "resource": "R::\"r\""}"#)
        }
        #expect(throws: Never.self) {
            try Request.fromJSON(
                #"{"principal": "NS::User::\"a b\"", "action": {"type": "Action", "id": "v"}, "resource": {"__entity": {"type": "R", "id": "r"}}}"#)
        }
    }
}
