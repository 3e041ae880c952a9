import Foundation
import Gateway

/// The JSON answers of the back-channel endpoints: never cached (RFC 6749 §5.1), errors as
/// `{"error", "error_description"}` (§5.2).
enum OAuthAnswer {
    static let noStore: [(String, String)] = [("cache-control", "no-store"), ("pragma", "no-cache"), ("content-type", "application/json")]

    static func json(_ status: Int, _ object: [String: Any], reason: String, allowed: Bool, headers: [(String, String)] = []) -> OpenIDAnswer {
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return OpenIDAnswer(status: status, headers: noStore + headers, body: Array(body), reason: reason, allowed: allowed)
    }

    /// An OAuth error; `invalid_client` is 401 with a challenge when the client used HTTP Basic.
    static func error(_ code: String, _ description: String, status: Int = 400, challenge: String? = nil) -> OpenIDAnswer {
        json(
            status, ["error": code, "error_description": description], reason: "\(code): \(description)", allowed: false,
            headers: challenge.map { [("www-authenticate", $0)] } ?? [])
    }

    static let unavailable = error("temporarily_unavailable", "the identity store cannot be reached; try again shortly", status: 503)
}

/// A request the token or revocation endpoint refuses, with the answer that says why.
struct OAuthRefusal: Error {
    let answer: OpenIDAnswer

    init(_ answer: OpenIDAnswer) { self.answer = answer }
}
