import Testing

@testable import Cedar

/// The parser must reject garbage with an error, never crash or hang, including on deep nesting.
@Suite struct FuzzTests {
    @Test func randomBytesNeverCrashTheParser() {
        var rng = SeededRandom(seed: 0xC0FFEE)
        let alphabet = Array(
            "permit forbid(principal,action,resource)when{unless}[]\"\\*!-+<=>&|.:;@?is in has like if then else 0123456789 ip decimal é\u{0}\n"
                .unicodeScalars)
        for _ in 0..<3000 {
            var s = String.UnicodeScalarView()
            let n = Int.random(in: 0..<80, using: &rng)
            for _ in 0..<n {
                if Int.random(in: 0..<8, using: &rng) == 0 {
                    s.append(Unicode.Scalar(UInt8.random(in: 0...127, using: &rng)))
                } else {
                    s.append(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)])
                }
            }
            _ = PolicySet.parse(String(s))
        }
    }

    @Test func mutatedValidPoliciesNeverCrashTheParser() {
        var g = PolicyGenerator(seed: 99)
        var accepted = 0
        for _ in 0..<3000 {
            var bytes = Array(PolicyFormatter.format([g.policy(templates: g.chance(0.2))]).utf8)
            for _ in 0..<(1 + g.int(3)) {
                guard !bytes.isEmpty else { break }
                let at = g.int(bytes.count)
                switch g.int(4) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(g.pick(Array("(){}[]\",.;:!-*=<>&|@?\\ \n".utf8)), at: at)
                case 2: bytes[at] = g.pick(Array("0123456789abcxyz_\"".utf8))
                default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + g.int(20))], at: at)
                }
            }
            if case .success(let set) = PolicySet.parse(String(decoding: bytes, as: UTF8.self)) {
                accepted += 1
                // Whatever parses must also evaluate without trapping.
                _ = Authorizer(set).isAuthorized(g.request(), entities: .empty)
            }
        }
        #expect(accepted > 0)
    }

    @Test func deepNestingIsAnErrorNotAStackOverflow() {
        var g = PolicyGenerator(seed: 5)
        for (open, close) in [("(", ")"), ("[", "]"), ("{a: ", "}"), ("!(", ")"), ("if true then ", " else 1")] {
            let deep = String(repeating: open, count: 5000) + "1" + String(repeating: close, count: 5000)
            let errors = parseErrors("permit(principal, action, resource) when { \(deep) };")
            #expect(errors.first?.message.contains("nested too deeply") == true, "\(open): \(errors)")
        }
        let members = "context" + String(repeating: ".a", count: 5000)
        #expect(!parseErrors("permit(principal, action, resource) when { \(members) };").isEmpty)
        // Nesting the reference engine accepts (it fails near 700) is fine, and evaluates.
        for (open, close) in [("(", ")"), ("[", "]"), ("!(", ")"), ("if true then ", " else 1")] {
            let ok = String(repeating: open, count: 190) + "true" + String(repeating: close, count: 190)
            let errors = parseErrors("permit(principal, action, resource) when { (\(ok)) == (\(ok)) };")
            #expect(errors.isEmpty, "\(open): \(errors)")
            _ = outcome(of: "(\(ok)) == (\(ok))", request: g.request(), entities: .empty)
        }
    }

    /// Flat chains are n-ary: long ones parse, evaluate, print and are released without deep recursion.
    @Test func longFlatChainsAreNotNesting() throws {
        let ands = Array(repeating: "context.n == 1", count: 100_000).joined(separator: " && ")
        let sums = Array(repeating: "1", count: 20_000).joined(separator: " + ")
        let products = Array(repeating: "1", count: 20_000).joined(separator: " * ")
        let request = Request(
            principal: EntityUID("User", "u"), action: EntityUID("Action", "a"), resource: EntityUID("R", "r"), context: ["n": .long(1)])
        #expect(outcome(of: ands, request: request, entities: .empty) == .value(true))
        #expect(outcome(of: "\(sums) == 20000 && \(products) == 1", request: request, entities: .empty) == .value(true))
        let text = "permit(principal, action, resource) when { \(ands) || false };"
        let printed = PolicyFormatter.format(try PolicySet.parseFile(text, name: "t").get())
        #expect(try PolicySet.parseFile(printed, name: "t").get().policies == PolicySet.parseFile(text, name: "t").get().policies)
    }

    @Test func longInputsParseInLinearTime() {
        let many = String(repeating: "permit(principal == User::\"a\", action, resource) when { context.x == 1 };\n", count: 5000)
        if case .success(let set) = PolicySet.parse(many) { #expect(set.policies.count == 5000) } else { Issue.record("did not parse") }
        let oneLine = many.replacingOccurrences(of: "\n", with: " ")
        #expect(parseErrors(oneLine + " permit(").first?.location.column ?? 0 > 300_000)
    }
}
