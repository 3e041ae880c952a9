import Testing

@testable import Cedar

@Suite struct EvaluatorTests {
    func value(_ e: String) throws -> Value {
        let r = try #require(evaluate(e), "did not parse: \(e)")
        return try r.get()
    }

    func fails(_ e: String) -> EvaluationError? {
        if case .failure(let err)? = evaluate(e) { return err }
        return nil
    }

    @Test func stringsCompareByScalarsNotCanonicalEquivalence() throws {
        #expect(try value(#""\u{e9}" == "e\u{301}""#) == .bool(false))
        #expect(try value(#"["\u{e9}"].contains("e\u{301}")"#) == .bool(false))
        #expect(try value(#"{"\u{e9}": 1, "e\u{301}": 2}.e"#.replacingOccurrences(of: ".e", with: "[\"\\u{e9}\"]")) == .long(1))
        #expect(try value(#""e\u{301}" like "e*""#) == .bool(true))
        // Swift's own String equality would say these are equal; CedarString must not.
        #expect("\u{e9}" == "e\u{301}")
        #expect(CedarString("\u{e9}") != CedarString("e\u{301}"))
        #expect(Set([CedarString("\u{e9}"), CedarString("e\u{301}")]).count == 2)
    }

    @Test func likeMatching() throws {
        let cases: [(String, String, Bool)] = [
            ("", "", true), ("", "*", true), ("a", "", false), ("ab", "a**b", true), ("abc", "a*c", true),
            ("abcbd", "a*b*d", true), ("abcbe", "a*b*d", false), ("\u{1F600}x", "*x", true), ("aaa", "a*a*a*a", false),
        ]
        for (s, p, want) in cases {
            #expect(
                try value("\(quoteCedarString(s)) like \(quoteCedarString(p).replacingOccurrences(of: "\\*", with: "*"))") == .bool(want),
                "\(s) like \(p)")
        }
        #expect(fails(#"1 like "*""#) == .typeError(expected: [.string], got: "long"))
    }

    @Test func strictEvaluationAndShortCircuit() throws {
        #expect(try value(#"false && (1 + "a")"#) == .bool(false))
        #expect(try value(#"true || (1 + "a")"#) == .bool(true))
        #expect(try value(#"if false then (1 + "a") else 2"#) == .long(2))
        // Both operands are evaluated before any type check: the right error wins over nothing.
        #expect(fails(#"1 == 1 && (2 < "b")"#) != nil)
        #expect(fails(#"[Group::"a", 1] == [] || principal in [Group::"all", 1]"#) != nil)
        #expect(try value("1 == \"1\"") == .bool(false))
        #expect(try value("principal == context") == .bool(false))
    }

    @Test func arithmeticIsChecked() {
        #expect(fails("9223372036854775807 + 1") == .overflow(operation: "add", operands: [.max, 1]))
        #expect(fails("-9223372036854775808 - 1") == .overflow(operation: "subtract", operands: [.min, 1]))
        #expect(fails("-9223372036854775808 * -1") == .overflow(operation: "multiply", operands: [.min, -1]))
        #expect(fails("-(-9223372036854775808)") == .overflow(operation: "negate", operands: [.min]))
        #expect(
            EvaluationError.overflow(operation: "add", operands: [.max, 1]).description
                == "integer overflow while attempting to add the values `9223372036854775807` and `1`")
    }

    @Test func missingEntityRules() throws {
        let entities = try Entities.fromJSON(
            #"[{"uid": {"type": "User", "id": "a"}, "attrs": {"x": 1}, "parents": [{"type": "G", "id": "ghost"}], "tags": {"t": "v"}}]"#)
        let request = Request(principal: EntityUID("User", "a"), action: EntityUID("Action", "v"), resource: EntityUID("R", "missing"))
        func run(_ e: String) -> Result<Value, EvaluationError>? { evaluate(e, request, entities: entities) }
        #expect(try run("resource has x")?.get() == .bool(false))
        #expect(run("resource.x") == .failure(.entityDoesNotExist(EntityUID("R", "missing"))))
        #expect(run("principal.y") == .failure(.attributeDoesNotExist(owner: "`User::\"a\"`", attribute: "y")))
        #expect(try run("resource in resource")?.get() == .bool(true))
        #expect(try run("resource in G::\"ghost\"")?.get() == .bool(false))
        // A parent that is not itself an entity still counts for `in`.
        #expect(try run("principal in G::\"ghost\"")?.get() == .bool(true))
        #expect(try run("resource.hasTag(\"t\")")?.get() == .bool(false))
        #expect(run("resource.getTag(\"t\")") == .failure(.entityDoesNotExist(EntityUID("R", "missing"))))
        #expect(try run("principal.getTag(\"t\")")?.get() == .string("v"))
        #expect(run("principal.getTag(1)") == .failure(.typeError(expected: [.string], got: "long")))
        #expect(run("{a: 1} has a.b") == .failure(.typeError(expected: [.entity, .record], got: "long")))
        #expect(try run("{a: {b: 2}} has a.b")?.get() == .bool(true))
        #expect(try run("{a: {b: 2}} has a.c")?.get() == .bool(false))
    }

    @Test func isTypeInShortCircuits() throws {
        #expect(try value(#"principal is Group in (1 + "a")"#) == .bool(false))
        #expect(fails(#"principal is User in (1 + "a")"#) != nil)
        #expect(try value(#"NS::User::"a" is User"#) == .bool(false))
    }

    @Test func ipaddr() throws {
        #expect(try value(#"ip("10.0.0.1/24") == ip("10.0.0.1/24")"#) == .bool(true))
        #expect(try value(#"ip("127.0.0.1") == ip("::1")"#) == .bool(false))
        #expect(try value(#"ip("::ffff").isIpv6()"#) == .bool(true))
        #expect(try value(#"ip("1:2:3:4:5:6:7::").isIpv6()"#) == .bool(true))
        #expect(try value(#"ip("::1:2:3:4:5:6:7").isIpv6()"#) == .bool(true))
        #expect(try value(#"ip("FE80::1/10").isInRange(ip("fe80::/10"))"#) == .bool(true))
        #expect(try value(#"ip("ff02::1").isMulticast()"#) == .bool(true))
        #expect(try value(#"ip("10.0.0.1").isInRange(ip("::/0"))"#) == .bool(false))
        #expect(try value(#"ip("0.0.0.0/0").isInRange(ip("0.0.0.0/0"))"#) == .bool(true))
        #expect(try value(#"ip("::/0").isInRange(ip("::/0"))"#) == .bool(true))
        #expect(try value(#"ip("10.1.2.3").isInRange(ip("10.1.0.0/16"))"#) == .bool(true))
        #expect(try value(#"ip("10.2.0.0").isInRange(ip("10.1.0.0/16"))"#) == .bool(false))
        for bad in [
            "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/", "1.2.3.4/-1", "::1/129", "12345::", "1:2:3:4:5:6:7:8:9", ":1", "1::2::3", "::1.2.3.4",
            "1.2.3.4 ",
        ] {
            #expect(fails("ip(\(quoteCedarString(bad))).isIpv4()") != nil, "accepted \(bad)")
        }
        #expect(fails("ip(1)") == .typeError(expected: [.string], got: "long"))
        #expect(fails(#"ip("1.2.3.4").isInRange(1)"#) == .typeError(expected: [.ipaddr], got: "long"))
    }

    @Test func decimal() throws {
        #expect(try value(#"decimal("-922337203685477.5808").lessThan(decimal("0.0"))"#) == .bool(true))
        #expect(try value(#"decimal("1.2345").greaterThanOrEqual(decimal("1.2345"))"#) == .bool(true))
        #expect(try value(#"decimal("-1.5") == decimal("-1.50")"#) == .bool(true))
        for bad in ["1", "1.", ".1", "1.23456", "1e3", "--1.0", "1.-0", "", "１.0"] {
            #expect(fails("decimal(\(quoteCedarString(bad)))") != nil, "accepted \(bad)")
        }
        #expect(fails(#"decimal("922337203685477.5808")"#) != nil)
        #expect(fails(#"decimal("-922337203685477.5809")"#) != nil)
    }

    @Test func datetimeAndDuration() throws {
        #expect(try value(#"datetime("1970-01-01T00:00:00.001Z").toTime() == duration("1ms")"#) == .bool(true))
        #expect(try value(#"datetime("1969-12-31T23:59:59.999Z").toDate() == datetime("1969-12-31")"#) == .bool(true))
        #expect(try value(#"datetime("1969-12-31").toDate() == datetime("1969-12-31")"#) == .bool(true))
        #expect(try value(#"datetime("2024-02-29")"#) == .datetime(CedarDatetime(epochMilliseconds: 1_709_164_800_000)))
        #expect(try value(#"datetime("2024-10-15T11:35:00.500-0130") == datetime("2024-10-15T13:05:00.500Z")"#) == .bool(true))
        #expect(try value(#"datetime("2024-01-02").durationSince(datetime("2024-01-01")).toHours()"#) == .long(24))
        #expect(try value(#"duration("-90m").toHours()"#) == .long(-1))
        #expect(try value(#"duration("1d2h3m4s5ms").toMilliseconds()"#) == .long(93_784_005))
        #expect(try value(#"duration("-9223372036854775808ms").toMilliseconds()"#) == .long(.min))
        #expect(try value(#"duration("1ms") < duration("1s") && datetime("2024-01-01") <= datetime("2024-01-01")"#) == .bool(true))
        for bad in [
            "2023-02-29", "2024-13-01", "2024-00-10", "2024-1-01", "24-01-01", "2024-01-01T00:00:60Z", "2024-01-01T00:00:00.1234Z",
            "2024-01-01T00:00:00+01", "2024-01-01T00:00:00+0160", "2024-01-01t00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01Z",
        ] {
            #expect(fails("datetime(\(quoteCedarString(bad)))") != nil, "accepted \(bad)")
        }
        for bad in ["1m1h", "1s1s", "1", "d", "1D", "1.5h", "--1d", "1d-1h", " 1d", "9223372036854775808ms", "106751991168d"] {
            #expect(fails("duration(\(quoteCedarString(bad)))") != nil, "accepted \(bad)")
        }
        #expect(fails(#"datetime("2024-01-01") < 1"#) == .typeError(expected: [.datetime], got: "long"))
        #expect(fails(#"duration("1d").offset(duration("1d"))"#) == .typeError(expected: [.datetime], got: "duration"))
        #expect(fails(#"datetime("1970-01-01").offset(duration("-9223372036854775808ms")).toDate()"#) != nil)
    }

    @Test func extensionMethodArityIsAnEvaluationError() {
        #expect(fails(#"ip("1.2.3.4").isIpv4(1)"#) == .wrongArity(function: "isIpv4", expected: 1, got: 2))
        #expect(fails(#"ip("1.2.3.4", "x")"#) == .wrongArity(function: "ip", expected: 1, got: 2))
    }

    @Test func setsAndRecords() throws {
        #expect(try value("[1, [2, [3]]] == [[[3], 2], 1, 1]") == .bool(true))
        #expect(try value("[2, 43].containsAll([])") == .bool(true))
        #expect(try value("[].containsAny([])") == .bool(false))
        #expect(try value("{a: [1], b: {c: true}} == {b: {c: true}, a: [1, 1]}") == .bool(true))
        #expect(fails("[1].containsAll(1)") == .typeError(expected: [.set], got: "long"))
        #expect(fails("{}.a") == .attributeDoesNotExist(owner: "record", attribute: "a"))
        #expect(fails("\"s\".a") == .typeError(expected: [.entity, .record], got: "string"))
    }

    @Test func constantFoldingKeepsErrorsAndValues() throws {
        #expect(
            fold(try parseExpression(#"[1, ip("1.2.3.4"), {a: decimal("1.0")}]"#).get())
                == .literal(
                    .set([.long(1), .ipaddr(try IPAddress.parse("1.2.3.4").get()), .record(["a": .decimal(try CedarDecimal.parse("1.0").get())])])))
        // A malformed literal stays a call so it still errors when evaluated.
        #expect(fold(try parseExpression(#"ip("bad")"#).get()) == .call(.ip, [.literal(.string("bad"))]))
        #expect(fold(try parseExpression("[principal]").get()) == .set([.variable(.principal)]))
    }
}
