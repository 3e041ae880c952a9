import Testing

@testable import Gateway
@testable import HTTPSyntax

/// Random targets built from the troublesome pieces: every accepted target has a canonical
/// form that is a fixed point (forwarding it and canonicalizing again changes nothing) and
/// free of dot segments and duplicate slashes; and every outcome agrees with a small,
/// separately written model of the documented rule.
@Suite struct CanonicalizationPropertyTests {
    static let pieces = ["a", "..", ".", "", "%2e", "%41", ";x", "%25", "%3B"]
    static let queries: [String?] = [nil, "", "x=1", "a=/b/../c", "%2e%2e=%2F"]

    /// Deterministic so a failure reproduces (SplitMix64).
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomTarget(_ generator: inout SeededGenerator) -> (path: String, query: String?) {
        let segments = (0..<Int.random(in: 0...6, using: &generator)).map { _ in
            (0..<Int.random(in: 1...2, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
        }
        return ("/" + segments.joined(separator: "/"), queries.randomElement(using: &generator)!)
    }

    /// The documented rule, written plainly over strings.
    static func modelPath(_ raw: String) -> Result<String, RequestRejection> {
        if raw.contains("%2e") { return .failure(.encodedDot) }
        if raw.contains(";") || raw.contains("%3B") { return .failure(.pathParameter) }
        var kept: [String] = []
        var endsWithSlash = false
        for segment in raw.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let decoded = String(segment).replacing("%25", with: "%").replacing("%41", with: "A")
            switch decoded {
            case "", ".":
                endsWithSlash = true
            case "..":
                guard !kept.isEmpty else { return .failure(.pathAboveRoot) }
                kept.removeLast()
                endsWithSlash = true
            default:
                kept.append(decoded)
                endsWithSlash = false
            }
        }
        return .success("/" + kept.joined(separator: "/") + (endsWithSlash && !kept.isEmpty ? "/" : ""))
    }

    @Test func canonicalFormIsAFixedPointAndMatchesTheModel() throws {
        var generator = SeededGenerator(state: 0x5EED)
        var acceptedCount = 0
        for _ in 0..<20_000 {
            let (path, query) = Self.randomTarget(&generator)
            let target = query.map { path + "?" + $0 } ?? path
            let outcome = Result { () throws(RequestRejection) in try RequestCanonicalizer.canonicalize(request(target)) }
            #expect(outcome.map(\.path) == Self.modelPath(path), "target \(target)")
            guard case let .success(canonical) = outcome else { continue }
            acceptedCount += 1
            #expect(canonical.query == query)
            let again = try RequestCanonicalizer.canonicalize(request(canonical.forwardedTarget))
            #expect(again == canonical, "target \(target) forwarded as \(canonical.forwardedTarget)")
            let canonicalPath = canonical.path
            #expect(canonicalPath.hasPrefix("/"))
            #expect(!canonicalPath.contains("//") && !canonicalPath.contains("/./") && !canonicalPath.contains("/../"), "target \(target)")
            #expect(!canonicalPath.hasSuffix("/.") && !canonicalPath.hasSuffix("/.."), "target \(target)")
        }
        // Enough accepted cases for the fixed-point property to mean something.
        #expect(acceptedCount > 2_000)
    }
}
