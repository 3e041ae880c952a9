import Testing

@testable import Cedar

@Suite struct EntitiesTests {
    func loadError(_ json: String) -> InputError? {
        do throws(InputError) {
            _ = try Entities.fromJSON(json)
            return nil
        } catch {
            return error
        }
    }

    @Test func transitiveClosureAtLoad() throws {
        let e = try Entities.fromJSON(
            """
            [{"uid": {"type": "U", "id": "a"}, "attrs": {}, "parents": [{"type": "G", "id": "b"}]},
             {"uid": {"__entity": {"type": "G", "id": "b"}}, "attrs": {}, "parents": [{"type": "G", "id": "c"}, {"type": "G", "id": "d"}]},
             {"uid": {"type": "G", "id": "c"}, "attrs": {}, "parents": [{"type": "G", "id": "e"}]},
             {"uid": {"type": "G", "id": "d"}, "attrs": {}, "parents": [{"type": "G", "id": "e"}]}]
            """)
        #expect(e[EntityUID("U", "a")]?.ancestors == [EntityUID("G", "b"), EntityUID("G", "c"), EntityUID("G", "d"), EntityUID("G", "e")])
        #expect(e.isDescendant(EntityUID("U", "a"), of: EntityUID("G", "e")))
        #expect(!e.isDescendant(EntityUID("G", "e"), of: EntityUID("U", "a")))
    }

    /// A shared store plus per-request leaves answers exactly like the store built whole.
    @Test func leavesAddedToABuiltStoreMatchTheWholeStore() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            // Random role DAG: each role's parents are among the earlier roles.
            let roles = (0..<12).map { k in
                Entity(
                    uid: EntityUID("Role", "r\(k)"),
                    parents: (0..<k).filter { _ in Int.random(in: 0..<4, using: &generator) == 0 }.map { EntityUID("Role", "r\($0)") })
            }
            let user = Entity(
                uid: EntityUID("User", "u"), attributes: ["id": .string("u")],
                parents: (0..<12).filter { _ in Bool.random(using: &generator) }.map { EntityUID("Role", "r\($0)") }
                    + [EntityUID("Group", "outside-the-store")])
            let route = Entity(uid: EntityUID("Route", "shipments"))
            let whole = try Entities(roles + [user, route])
            let layered = try Entities(roles).withLeaves([user, route])
            #expect(layered.count == whole.count)
            for target in roles.map(\.uid) + [EntityUID("Group", "outside-the-store"), route.uid, user.uid] {
                #expect(layered.isDescendant(user.uid, of: target) == whole.isDescendant(user.uid, of: target))
            }
            #expect(layered[user.uid]?.ancestors == whole[user.uid]?.ancestors)
        }
    }

    @Test func aLeafThatIsAParentOrConflictsIsRefused() throws {
        let store = try Entities([Entity(uid: EntityUID("Role", "a"), parents: [EntityUID("User", "u")])])
        #expect(throws: InputError.self) { try store.withLeaves([Entity(uid: EntityUID("User", "u"))]) }
        #expect(throws: InputError.self) { try store.withLeaves([Entity(uid: EntityUID("User", "v"), parents: [EntityUID("User", "v")])]) }
        #expect(throws: InputError.self) {
            try store.withLeaves([Entity(uid: EntityUID("Role", "a"), attributes: ["x": .long(1)])])
        }
    }

    @Test func longChainsDoNotExhaustTheStack() throws {
        let n = 1_200
        let items = (0..<n).map { k in
            #"{"uid": {"type": "G", "id": "\#(k)"}, "attrs": {}, "parents": [\#(k + 1 < n ? #"{"type": "G", "id": "\#(k + 1)"}"# : "")]}"#
        }
        let e = try Entities.fromJSON("[" + items.joined(separator: ",") + "]")
        #expect(e.isDescendant(EntityUID("G", "0"), of: EntityUID("G", "\(n - 1)")))
    }

    @Test func rejectedAtLoad() {
        let cases: [(String, String)] = [
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {}, "parents": [{"type": "G", "id": "a"}]}]"#, "cycle"),
            (
                #"[{"uid": {"type": "G", "id": "a"}, "attrs": {}, "parents": [{"type": "G", "id": "b"}]}, {"uid": {"type": "G", "id": "b"}, "attrs": {}, "parents": [{"type": "G", "id": "a"}]}]"#,
                "cycle"
            ),
            (
                #"[{"uid": {"type": "G", "id": "a"}, "attrs": {}, "parents": []}, {"uid": {"type": "G", "id": "a"}, "attrs": {"x": 1}, "parents": []}]"#,
                "duplicate entity"
            ),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": -0}, "parents": []}]"#, "not a 64-bit integer"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": null}, "parents": []}]"#, "null"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": 1.5}, "parents": []}]"#, "floating"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": 1e3}, "parents": []}]"#, "floating"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": 9223372036854775808}, "parents": []}]"#, "64-bit"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": 1, "x": 2}, "parents": []}]"#, "duplicate key"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": {"__extn": {"fn": "ip", "arg": "bad"}}}, "parents": []}]"#, "ipaddr"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": {"__extn": {"fn": "nope", "arg": "1"}}}, "parents": []}]"#, "not an extension"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": {"__expr": "1"}}, "parents": []}]"#, "__expr"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": {"__entity": {"type": "G G", "id": "a"}}}, "parents": []}]"#, "entity type"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {}}]"#, "missing `parents`"),
            (#"[{"uid": {"type": "G", "id": "a"}, "parents": []}]"#, "missing `attrs`"),
            ("\u{FEFF}[]", "expected a JSON value"),
            (#"[{"uid": {"type": "G G", "id": "a"}, "attrs": {}, "parents": []}]"#, "entity type"),
            (#"[{"uid": {"type": "if", "id": "a"}, "attrs": {}, "parents": []}]"#, "entity type"),
            (#"[{"attrs": {}, "parents": []}]"#, "missing `uid`"),
            (#"[{"uid": {"type": "Action", "id": "a"}, "attrs": {}, "parents": [{"type": "Doc", "id": "d"}]}]"#, "only have actions"),
            (#"{"uid": 1}"#, "array"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"s": "\ud800"}, "parents": []}]"#, "surrogate"),
            (#"[{"uid": {"type": "G", "id": "a"}, "attrs": {}, "parents": []}"#, "end of JSON"),
        ]
        for (json, fragment) in cases {
            let error = loadError(json)
            #expect(error != nil, "accepted: \(json)")
            #expect(error?.description.contains(fragment) == true, "\(json): \(String(describing: error))")
        }
    }

    /// The reference engine accepts an exact repeat of an entity (differential case
    /// Tests/CedarDifferential/entities-identical-duplicate-accepted.json).
    @Test func identicalDuplicateIsAccepted() throws {
        let one = #"{"uid": {"type": "G", "id": "a"}, "attrs": {"s": [1, 2]}, "parents": [{"type": "G", "id": "p"}, {"type": "G", "id": "q"}]}"#
        let reordered = #"{"uid": {"type": "G", "id": "a"}, "attrs": {"s": [2, 1]}, "parents": [{"type": "G", "id": "q"}, {"type": "G", "id": "p"}]}"#
        let e = try Entities.fromJSON("[\(one), \(reordered)]")
        #expect(e.count == 1)
    }

    /// How cedar-policy tells escapes from records (differential cases attr-*-escape-*.json in
    /// Tests/CedarDifferential): a lone escape key with the right shape is an escape, extra inner
    /// keys are ignored, anything else is a plain record; unknown entity keys are ignored.
    @Test func escapeShapes() throws {
        let e = try Entities.fromJSON(
            #"""
            [{"uid": {"type": "U", "id": "a", "extra": 1}, "attrs": {
                "e1": {"__entity": {"type": "U", "id": "a", "x": 1}},
                "e2": {"__entity": "U::\"a\""},
                "e3": {"__entity": {"type": "U", "id": "a"}, "x": 1},
                "x1": {"__extn": {"fn": "ip", "arg": "1.2.3.4", "x": 1}},
                "x2": {"__extn": {"fn": "ip"}}}, "parents": [], "unknown": true}]
            """#)
        let a = try #require(e[EntityUID("U", "a")]).attributes
        #expect(a["e1"] == .entity(EntityUID("U", "a")))
        #expect(a["e2"] == .record(["__entity": .string("U::\"a\"")]))
        #expect(a["e3"] == .record(["__entity": .record(["type": .string("U"), "id": .string("a")]), "x": .long(1)]))
        #expect(a["x1"] == .ipaddr(try IPAddress.parse("1.2.3.4").get()))
        #expect(a["x2"] == .record(["__extn": .record(["fn": .string("ip")])]))
    }

    @Test func valueSyntax() throws {
        let e = try Entities.fromJSON(
            #"""
            [{"uid": {"type": "U", "id": "a"}, "attrs": {
                "m": {"__entity": {"type": "U", "id": "b"}}, "implicit": {"type": "U", "id": "b"},
                "ip": {"__extn": {"fn": "ip", "arg": "10.0.0.1"}},
                "t": {"__extn": {"fn": "offset", "args": [{"__extn": {"fn": "datetime", "arg": "1970-01-01"}}, {"__extn": {"fn": "duration", "arg": "5ms"}}]}},
                "s": [1, 1, "x"], "u": "\u00e9\ud83d\ude00"}, "parents": [], "tags": {"k": true}}]
            """#)
        let a = try #require(e[EntityUID("U", "a")])
        #expect(a.attributes["m"] == .entity(EntityUID("U", "b")))
        #expect(a.attributes["implicit"] == .record(["type": .string("U"), "id": .string("b")]))
        #expect(a.attributes["t"] == .datetime(CedarDatetime(epochMilliseconds: 5)))
        #expect(a.attributes["s"] == .set([.long(1), .string("x")]))
        #expect(a.attributes["u"] == .string("\u{e9}\u{1F600}"))
        #expect(a.tags["k"] == .bool(true))
    }

    @Test func deepJSONIsRejectedNotCrashed() throws {
        // serde_json's limit: 127 levels are read, 128 are not (differential case depth-json-100-in-entity.json).
        func nested(_ n: Int) -> String { String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        #expect(throws: Never.self) { try JSON.parse(nested(127)).get() }
        #expect(throws: InputError.self) { try JSON.parse(nested(128)).get() }
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(loadError(#"[{"uid": {"type": "G", "id": "a"}, "attrs": {"x": \#(deep)}, "parents": []}]"#) != nil)
    }
}
