import Foundation
import HTTPSyntax
import Hummingbird
import NIOCore

/// A JSON object body read strictly: unknown keys and wrongly typed fields are reported per
/// field, all at once, so a client can fix a request in one round trip.
struct JSONBody {
    private let object: [String: Any]
    private var errors: [FieldError] = []
    private var seen: Set<String> = []

    static func read(_ request: Request, context: IdentityRequestContext, limit: Int) async throws(IdentityError) -> JSONBody {
        let bytes = try await RequestBytes.collect(request, context: context, limit: limit)
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw .malformedBody("expected Content-Type application/json")
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(bytes), options: []) else {
            throw .malformedBody("not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw .malformedBody("expected a JSON object") }
        return JSONBody(object: object)
    }

    private init(object: [String: Any]) { self.object = object }

    mutating func string(_ key: String) -> String? {
        seen.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let string = value as? String else {
            errors.append(FieldError(key, "expected a string"))
            return nil
        }
        return string
    }

    mutating func requiredString(_ key: String) -> String {
        guard let value = string(key) else {
            if object[key] == nil || object[key] is NSNull { errors.append(FieldError(key, "is required")) }
            return ""
        }
        return value
    }

    mutating func strings(_ key: String) -> [String] {
        seen.insert(key)
        guard let value = object[key], !(value is NSNull) else { return [] }
        guard let array = value as? [Any], let strings = array as? [String], strings.count <= 100 else {
            errors.append(FieldError(key, "expected an array of at most 100 strings"))
            return []
        }
        return strings
    }

    /// An object whose values are all strings (file name → contents), at most 1000 entries.
    mutating func stringMap(_ key: String) -> [String: String] {
        seen.insert(key)
        guard let value = object[key], !(value is NSNull) else { return [:] }
        guard let map = value as? [String: Any], let strings = map as? [String: String], strings.count <= 1000 else {
            errors.append(FieldError(key, "expected an object of at most 1000 string values"))
            return [:]
        }
        return strings
    }

    /// Whether the body has `key` with a non-null value.
    func has(_ key: String) -> Bool {
        guard let value = object[key] else { return false }
        return !(value is NSNull)
    }

    /// A whole number within `range`.
    mutating func integer(_ key: String, in range: ClosedRange<Int>) -> Int? {
        seen.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard !Self.isBoolean(value), let number = value as? NSNumber, let integer = Int(exactly: number.doubleValue), range.contains(integer) else {
            errors.append(FieldError(key, "expected a whole number from \(range.lowerBound) to \(range.upperBound)"))
            return nil
        }
        return integer
    }

    /// A nested JSON object, as JSON text (pretty-printed, so messages about it name a line).
    mutating func jsonText(_ key: String) -> String? {
        seen.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard value is [String: Any], let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys]) else {
            errors.append(FieldError(key, "expected a JSON object"))
            return nil
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// An array of JSON objects, as JSON text with one object per line.
    mutating func jsonLines(_ key: String) -> String? {
        seen.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let array = value as? [Any], array.count <= 10_000, array.allSatisfy({ $0 is [String: Any] }),
            let lines = try? array.map({ try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) })
        else {
            errors.append(FieldError(key, "expected an array of at most 10000 JSON objects"))
            return nil
        }
        return lines.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
    }

    mutating func bool(_ key: String) -> Bool? {
        seen.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard Self.isBoolean(value), let flag = value as? Bool else {
            errors.append(FieldError(key, "expected true or false"))
            return nil
        }
        return flag
    }

    mutating func seconds(_ key: String) -> TimeInterval? {
        seen.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard !Self.isBoolean(value), let number = value as? NSNumber, number.doubleValue > 0, number.doubleValue <= 366 * 86_400 else {
            errors.append(FieldError(key, "expected a number of seconds between 1 and 31622400"))
            return nil
        }
        return number.doubleValue
    }

    /// Foundation hands JSON `true` and `1` out as NSNumbers that both cast to Bool; only the
    /// boolean one has the boolean class.
    private static func isBoolean(_ value: Any) -> Bool {
        String(describing: type(of: value)).contains("Boolean")
    }

    /// Runs a validator and collects its field error instead of stopping at the first.
    mutating func check<T>(_ validate: () throws(IdentityError) -> T) -> T? {
        do {
            return try validate()
        } catch {
            let reported = Set(errors.map(\.field))
            let fresh = if case let .invalidInput(fieldErrors) = error { fieldErrors } else { [FieldError("input", error.description)] }
            // One message per field: a missing value is not also reported as too short.
            errors += fresh.filter { !reported.contains($0.field) }
            return nil
        }
    }

    /// Throws every collected error, plus one per unknown key.
    func finish() throws(IdentityError) {
        let unknown = object.keys.filter { !seen.contains($0) }.sorted().map { FieldError($0, "unknown field") }
        let all = errors + unknown
        if !all.isEmpty { throw .invalidInput(all) }
    }
}

/// An `application/x-www-form-urlencoded` body (RFC 6749 requests), parsed by `FormURLEncoded`.
struct FormBody {
    let fields: [String: String]

    static func read(_ request: Request, context: IdentityRequestContext, limit: Int) async throws(IdentityError) -> FormBody {
        guard let type = request.headers[.contentType]?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded") else {
            throw .malformedBody("expected Content-Type application/x-www-form-urlencoded")
        }
        let bytes = try await RequestBytes.collect(request, context: context, limit: limit)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .malformedBody("form body is not UTF-8") }
        switch FormURLEncoded.parse(text) {
        case let .success(fields): return FormBody(fields: fields)
        case let .failure(error): throw .malformedBody(error.description)
        }
    }

    subscript(_ name: String) -> String? { fields[name] }
}

enum RequestBytes {
    static func collect(_ request: Request, context: IdentityRequestContext, limit: Int) async throws(IdentityError) -> [UInt8] {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw .malformedBody("request body is larger than \(limit) bytes")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch {
            throw .malformedBody("request body is larger than \(limit) bytes")
        }
    }
}
