import Foundation
import Identity
import JWTKit

/// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): the client proves itself with a JWT
/// signed by a key of the JWKS it registered. Accepted only with `iss` and `sub` the client, an
/// audience naming this token endpoint or issuer, a near expiry, an allowed algorithm whose type
/// matches the key's, and a `jti` not seen before from that client.
struct ClientAssertion: JWTPayload {
    static let type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    static let algorithms: Set<String> = ["RS256", "ES256", "EdDSA"]
    /// An assertion valid longer than this is refused: it is made for one request.
    static let maximumLifetime: TimeInterval = 300

    var issuer: String?
    var subject: String?
    var audience: [String] = []
    var expiresAt: Date?
    var tokenID: String?

    enum CodingKeys: String, CodingKey {
        case issuer = "iss"
        case subject = "sub"
        case audience = "aud"
        case expiresAt = "exp"
        case tokenID = "jti"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        issuer = try? container.decode(String.self, forKey: .issuer)
        subject = try? container.decode(String.self, forKey: .subject)
        audience =
            (try? container.decode([String].self, forKey: .audience)) ?? (try? container.decode(String.self, forKey: .audience)).map { [$0] } ?? []
        expiresAt = (try? container.decode(Double.self, forKey: .expiresAt)).map(Date.init(timeIntervalSince1970:))
        tokenID = try? container.decode(String.self, forKey: .tokenID)
    }

    func encode(to encoder: any Encoder) throws {}

    /// Checked in ``verify(_:client:audiences:identity:now:)`` against an explicit clock.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// The client the assertion names (`iss`), read before its signature is checked so that
    /// client's keys can be found; nothing else is trusted from it.
    static func claimedClient(_ assertion: String) -> String? {
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Data(base64URLEncoded: String(parts[1])),
            let claims = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return nil }
        return claims["iss"] as? String
    }

    /// Verifies `assertion` for `client`; the reason when it is refused.
    static func verify(
        _ assertion: String, client: OpenIDClient, audiences: Set<String>, identity: IdentityService, now: Date = Date()
    ) async -> String? {
        guard let jwks = client.jwks else { return "the client registered no keys" }
        guard let header = header(of: assertion), let algorithm = header.alg, algorithms.contains(algorithm) else {
            return "the assertion's algorithm is not RS256, ES256 or EdDSA"
        }
        let keys = JWTKeyCollection()
        do {
            try await keys.add(jwksJSON: jwks)
        } catch {
            return "the client's registered keys are unreadable"
        }
        let claims: ClientAssertion
        do {
            claims = try await keys.verify(assertion, as: ClientAssertion.self)
        } catch {
            return "the assertion's signature does not verify with the client's keys"
        }
        guard claims.issuer == client.id, claims.subject == client.id else { return "iss and sub must both be the client id" }
        guard !audiences.isDisjoint(with: claims.audience) else { return "the assertion is for another audience" }
        guard let expiry = claims.expiresAt, expiry > now, expiry < now + maximumLifetime else {
            return "the assertion has expired or lives longer than \(Int(maximumLifetime)) s"
        }
        guard let jti = claims.tokenID, !jti.isEmpty, jti.utf8.count <= 256 else { return "the assertion has no jti" }
        do {
            guard try await identity.store.recordClientAssertion(clientID: client.id, jti: jti, expiresAt: expiry) else {
                return "the assertion was used before (jti replayed)"
            }
        } catch {
            return "the identity store cannot be reached"
        }
        return nil
    }

    private static func header(of token: String) -> (alg: String?, kid: String?)? {
        guard let segment = token.split(separator: ".").first, let data = Data(base64URLEncoded: String(segment)),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { return nil }
        return (object["alg"] as? String, object["kid"] as? String)
    }
}

extension Data {
    /// Base64url without padding, as JWS segments are.
    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
