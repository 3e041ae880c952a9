import Foundation
import JWTKit

/// The claims of an id_token, read generically: the registered ones Portcullis checks, and every
/// string, boolean or string-list claim by name for the configured login, e-mail and group claims.
struct IDTokenClaims: JWTPayload {
    var issuer: String?
    var subject: String?
    var audience: [String] = []
    var expiresAt: Date?
    var issuedAt: Date?
    var notBefore: Date?
    var authTime: Date?
    var nonce: String?
    var authorizedParty: String?
    var amr: [String] = []
    var acr: String?
    var strings: [String: String] = [:]
    var booleans: [String: Bool] = [:]
    var lists: [String: [String]] = [:]
    /// Names of the `events` claim's members (a logout token's).
    var events: Set<String> = []

    private struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if let text = try? container.decode(String.self, forKey: key) {
                strings[key.stringValue] = text
            } else if let flag = try? container.decode(Bool.self, forKey: key) {
                booleans[key.stringValue] = flag
            } else if let list = try? container.decode([String].self, forKey: key) {
                lists[key.stringValue] = list
            }
        }
        func date(_ name: String) throws -> Date? {
            try container.decodeIfPresent(Double.self, forKey: Key(stringValue: name)).map(Date.init(timeIntervalSince1970:))
        }
        issuer = strings["iss"]
        subject = strings["sub"]
        audience = strings["aud"].map { [$0] } ?? lists["aud"] ?? []
        expiresAt = try date("exp")
        issuedAt = try date("iat")
        notBefore = try date("nbf")
        authTime = try date("auth_time")
        nonce = strings["nonce"]
        authorizedParty = strings["azp"]
        amr = lists["amr"] ?? []
        acr = strings["acr"]
        if let members = try? container.decode([String: [String: String]].self, forKey: Key(stringValue: "events")) {
            events = Set(members.keys)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (name, value) in strings { try container.encode(value, forKey: Key(stringValue: name)) }
        for (name, value) in booleans { try container.encode(value, forKey: Key(stringValue: name)) }
        for (name, value) in lists { try container.encode(value, forKey: Key(stringValue: name)) }
    }

    /// Checked by ``OpenIDProvider/verify(idToken:nonce:now:)`` against an explicit clock instead.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
