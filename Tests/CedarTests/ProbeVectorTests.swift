import Foundation
import Testing

@testable import Cedar

/// Every line of the reference engine's probe vectors (Fixtures/probe-vectors.txt, copied from
/// /work/shared/reference/cedar-probe-vectors.md; outcomes from cedar-policy 4.12.0 via cedarpy 4.12.2).
@Suite struct ProbeVectorTests {
    struct Vector: CustomStringConvertible {
        let line: Int
        let expression: String
        let expected: Outcome
        var description: String { "line \(line): \(expression)" }
    }

    static func vectors() throws -> [Vector] {
        var out: [Vector] = []
        for (n, line) in try Fixtures.text("probe-vectors.txt").split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.hasPrefix("#"), let sep = line.range(of: " => ", options: .backwards) else { continue }
            let expr = String(line[..<sep.lowerBound])
            let result = line[sep.upperBound...]
            let expected: Outcome
            if result == "true" {
                expected = .value(true)
            } else if result == "false" {
                expected = .value(false)
            } else if result.hasPrefix("ERROR(") {
                expected = .error
            } else if result.hasPrefix("PARSE(") {
                expected = .parseError
            } else {
                throw InputError("probe-vectors.txt:\(n + 1)", "unknown outcome \(result)")
            }
            out.append(Vector(line: n + 1, expression: expr, expected: expected))
        }
        return out
    }

    @Test func allProbeVectorsMatchTheReferenceEngine() throws {
        let entities = try Entities.fromJSON(try Fixtures.text("probe-entities.json"))
        let request = try Request.fromJSON(try Fixtures.text("probe-request.json"))
        let vectors = try Self.vectors()
        #expect(vectors.count == 163)
        for v in vectors {
            let got = outcome(of: v.expression, request: request, entities: entities)
            #expect(got == v.expected, "\(v): expected \(v.expected), got \(got)")
        }
    }
}
