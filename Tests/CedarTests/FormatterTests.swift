import Testing

@testable import Cedar

@Suite struct FormatterTests {
    func reformat(_ text: String) throws -> String {
        PolicyFormatter.format(try PolicySet.parseFile(text, name: "t").get())
    }

    @Test func canonicalLayout() throws {
        let text =
            #"@id("x") @note permit(principal==User::"a",action in[Action::"v",Action::"w",],resource is NS::Doc in Folder::"f")when{context.a.b+1>2&&!(resource has "a b")}unless{if principal.x then [1,{k:"v\n"}].contains(-1) else ip("1.2.3.4").isInRange(ip("1.0.0.0/8"))};"#
        let expected = """
            @id("x")
            @note("")
            permit (
              principal == User::"a",
              action in [Action::"v", Action::"w"],
              resource is NS::Doc in Folder::"f"
            )
            when { context.a.b + 1 > 2 && !(resource has "a b") }
            unless { if principal.x then [1, {k: "v\\n"}].contains(-1) else ip("1.2.3.4").isInRange(ip("1.0.0.0/8")) };

            """
        #expect(try reformat(text) == expected)
    }

    @Test func parenthesesOnlyWhereNeeded() throws {
        let cases: [(String, String)] = [
            ("(1 + 2) * 3 == 9", "(1 + 2) * 3 == 9"),
            ("1 - (2 - 3) == 2", "1 - (2 - 3) == 2"),
            ("(1 == 1) == true", "(1 == 1) == true"),
            ("-(1) == -1", "-(1) == -1"),
            ("(-1).isEmpty()", "(-1).isEmpty()"),
            ("!(-1)", "!(-1)"),
            ("--1 == 1", "-(-1) == 1"),
            ("(if true then 1 else 2) == 1", "(if true then 1 else 2) == 1"),
            ("context[\"if\"] == context.x", "context[\"if\"] == context.x"),
            ("(true || false) && true", "(true || false) && true"),
            ("true || (false && true)", "true || false && true"),
            ("principal is User in (Group::\"a\")", "principal is User in Group::\"a\""),
            ("\"a*b\" like \"a\\*b*\"", "\"a*b\" like \"a\\*b*\""),
            ("context has a.b.c", "context has a.b.c"),
        ]
        for (input, output) in cases {
            let formatted = try reformat("permit(principal, action, resource) when { \(input) };")
            #expect(formatted.contains("when { \(output) }"), "\(input) -> \(formatted)")
        }
    }

    @Test func commentsAreKept() throws {
        let text = """
            // header
            @id("a") // on the annotation line
            permit(principal, action, resource) // in the scope
              when { true }; // trailing
            // between
            forbid(principal, action, resource);
            // end of file
            """
        let expected = """
            // header
            // on the annotation line
            // in the scope
            @id("a")
            permit (
              principal,
              action,
              resource
            )
            when { true }; // trailing

            // between
            forbid (
              principal,
              action,
              resource
            );

            // end of file

            """
        let once = try reformat(text)
        #expect(once == expected)
        #expect(try reformat(once) == once)
        #expect(try PolicySet.parseFile(once, name: "t").get().policies == PolicySet.parseFile(text, name: "t").get().policies)
    }

    /// format(format(x)) == format(x), and parse(format(x)) gives the same policies, on random policies.
    @Test(arguments: [11, 12, 13, 14] as [UInt64])
    func roundTripOnRandomPolicies(seed: UInt64) throws {
        var g = PolicyGenerator(seed: seed)
        for _ in 0..<300 {
            let policy = g.policy(templates: g.chance(0.2))
            let once = PolicyFormatter.format([policy])
            let reparsed = try PolicySet.parseFile(once, name: "t").get().policies
            #expect(reparsed == [policy], "\(once)")
            #expect(PolicyFormatter.format(reparsed) == once)
            #expect(try reformat(once) == once)
        }
    }
}
