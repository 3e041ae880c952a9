import Foundation

/// `application/x-www-form-urlencoded` (the WHATWG URL standard's form encoding), strictly:
/// a parameter given twice is refused (as RFC 6749 §3.1 requires of token requests), so two
/// readers can never pick different values; empty values count as absent.
public enum FormURLEncoded {
    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
    }

    public static func parse(_ text: String) -> Result<[String: String], Malformed> {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else {
                return .failure(Malformed(description: "invalid percent-encoding in form body"))
            }
            guard fields[name] == nil else { return .failure(Malformed(description: "parameter '\(name.prefix(40))' appears more than once")) }
            if !value.isEmpty { fields[name] = value }
        }
        return .success(fields)
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
