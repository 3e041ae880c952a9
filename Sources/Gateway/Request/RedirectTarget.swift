import HTTPSyntax

/// Validates the `next` target of the login flow: it must be a path on the same host, so the
/// login page can never be used as an open redirect (oauth2-proxy CVE-2020-5233,
/// CVE-2020-11053, CVE-2021-21291 and their relatives).
///
/// Only a local path is accepted; there is no host allow-list to get wrong. The raw string
/// must be at most ``maximumLength`` bytes of visible ASCII, and both it and its form
/// percent-decoded once (so a layer that decodes before redirecting sees nothing new) must:
/// - start with `/`, not followed by `/`, so it is neither scheme-relative (`//evil.com`)
///   nor absolute (`https:...`);
/// - contain no `\`, whitespace or control characters (`%09`, `%0A`, `%0B`, `%0D`, `%20`,
///   `%5C`, ... in the decoded form);
/// - have no empty, `.` or `..` segment in the path part (before `?` or `#`) except a
///   trailing slash (`/./`, `/%2F/`, `/x/..//`), which browsers or upstream routers might
///   collapse into `//`.
public enum RedirectTarget {
    public static let maximumLength = 2048

    /// The target to redirect to (the raw string, unchanged) or nil when it is not a safe
    /// local path; callers fall back to `/`.
    public static func validate(_ raw: String) -> String? {
        let bytes = Array(raw.utf8)
        guard bytes.count <= maximumLength, bytes.allSatisfy(ASCII.isVisible),
            let decoded = decodedOnce(bytes),
            isLocalPath(bytes), isLocalPath(decoded)
        else { return nil }
        return raw
    }

    private static func isLocalPath(_ target: [UInt8]) -> Bool {
        guard target.first == ASCII.slash, target.count == 1 || target[1] != ASCII.slash else { return false }
        guard !target.contains(where: { $0 == ASCII.backslash || $0 == ASCII.space || ASCII.isControl($0) }) else {
            return false
        }
        let pathEnd = target.firstIndex { $0 == ASCII.questionMark || $0 == ASCII.hash } ?? target.count
        let segments = target[1..<pathEnd].split(separator: ASCII.slash, omittingEmptySubsequences: false)
        for (position, segment) in segments.enumerated() {
            let isDotSegment = !segment.isEmpty && segment.count <= 2 && segment.allSatisfy { $0 == ASCII.dot }
            if isDotSegment || segment.isEmpty && position != segments.count - 1 { return false }
        }
        return true
    }

    /// The bytes with every `%XX` decoded once, or nil when an escape is invalid.
    private static func decodedOnce(_ bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBufferPointer { bytes in
            var decoded: [UInt8] = []
            decoded.reserveCapacity(bytes.count)
            var index = 0
            while index < bytes.count {
                guard bytes[index] == ASCII.percent else {
                    decoded.append(bytes[index])
                    index += 1
                    continue
                }
                guard let value = ASCII.percentEscape(in: bytes, at: index) else { return nil }
                decoded.append(value)
                index += 3
            }
            return decoded
        }
    }
}
