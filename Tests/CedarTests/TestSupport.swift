import Foundation

@testable import Cedar

/// Deterministic generator (SplitMix64) so every randomized test is reproducible from its seed.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }
}

/// The outcome of one policy on one request, as the probe vectors name them.
enum Outcome: Equatable, CustomStringConvertible {
    case value(Bool)
    case error
    case parseError

    var description: String {
        switch self {
        case .value(let b): return String(b)
        case .error: return "ERROR"
        case .parseError: return "PARSE"
        }
    }
}

/// Evaluates `expr` as `permit(principal, action, resource) when { expr };`.
func outcome(of expr: String, request: Request, entities: Entities) -> Outcome {
    guard case .success(let set) = PolicySet.parse("permit(principal, action, resource) when { \(expr) };") else {
        return .parseError
    }
    let response = Authorizer(set).isAuthorized(request, entities: entities)
    if !response.errors.isEmpty { return .error }
    return .value(response.decision == .allow)
}

func parsed(_ text: String) -> PolicySet? {
    if case .success(let s) = PolicySet.parse(text) { return s }
    return nil
}

func parseErrors(_ text: String) -> [ParseError] {
    if case .failure(let e) = PolicySet.parse(text, name: "test.cedar") { return e.errors }
    return []
}

func evaluate(
    _ expr: String, _ request: Request = Request(principal: EntityUID("User", "u"), action: EntityUID("Action", "a"), resource: EntityUID("R", "r")),
    entities: Entities = .empty
) -> Result<Value, EvaluationError>? {
    guard case .success(let e) = parseExpression(expr) else { return nil }
    do throws(EvaluationError) {
        return .success(try Evaluator(request: request, entities: entities).evaluate(e))
    } catch {
        return .failure(error)
    }
}
