import Foundation

/// Reads a JSON object body field by field, collecting every problem instead of stopping at the
/// first, and refusing members nobody asked for (a misspelt field must not be silently ignored).
/// `finish()` throws all problems at once; until it succeeds nothing may be stored.
struct InputReader {
    private let object: [String: Member]
    private var read: Set<String> = []
    private var problems: [FieldError] = []

    /// Largest body accepted, in bytes.
    static let maxBodyBytes = 64 * 1024

    init(json: Data) throws(APIError) {
        guard let object = try? JSONDecoder().decode([String: Member].self, from: json) else {
            throw .malformedBody("the body must be a JSON object")
        }
        self.object = object
    }

    /// A member's value, as far as the fields here care.
    private enum Member: Decodable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case structured

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else {
                self = .structured
            }
        }
    }

    /// The body has no members at all.
    var isEmpty: Bool { object.isEmpty }

    private mutating func fail(_ field: String, _ message: String) -> String? {
        problems.append(FieldError(field: field, message: message))
        return nil
    }

    /// A trimmed, non-empty string of at most `maxLength` characters; nil when absent and optional.
    mutating func string(_ field: String, required: Bool, maxLength: Int = 120) -> String? {
        read.insert(field)
        let text: String
        switch object[field] {
        case nil, .null?: return required ? fail(field, "is required") : nil
        case let .string(value)?: text = value
        default: return fail(field, "must be a string")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return fail(field, "must not be empty") }
        guard trimmed.count <= maxLength else { return fail(field, "must be at most \(maxLength) characters") }
        guard !trimmed.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            return fail(field, "must not contain control characters")
        }
        return trimmed
    }

    /// One of `allowed`.
    mutating func choice(_ field: String, required: Bool, from allowed: [String]) -> String? {
        guard let value = string(field, required: required) else { return nil }
        guard allowed.contains(value) else { return fail(field, "must be one of: \(allowed.joined(separator: ", "))") }
        return value
    }

    /// A whole number in `range`.
    mutating func integer(_ field: String, required: Bool, in range: ClosedRange<Int>) -> Int? {
        read.insert(field)
        let number: Double
        switch object[field] {
        case nil, .null?:
            if required { _ = fail(field, "is required") }
            return nil
        case let .number(value)?: number = value
        default: number = .nan
        }
        guard let whole = Int(exactly: number), range.contains(whole) else {
            _ = fail(field, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return whole
    }

    /// Throws every problem found, plus one per member that no reader asked for.
    func finish() throws(APIError) {
        var all = problems
        for field in object.keys.sorted() where !read.contains(field) {
            all.append(FieldError(field: field, message: "is not a known field"))
        }
        if !all.isEmpty { throw .invalidInput(all) }
    }
}
