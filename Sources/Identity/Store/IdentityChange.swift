import Foundation

/// What the identity service announces on its NOTIFY channel. Payloads are small JSON
/// objects; a listener that cannot parse one resynchronises fully instead of guessing.
public enum IdentityChange: Sendable, Equatable {
    /// A session, token id or subject is revoked until `expiresAt`.
    case revoked(Revocation)
    /// Roles, role parents, groups, a user's status or memberships, or service accounts changed:
    /// reload the directory snapshot.
    case hierarchyChanged
    /// The signing key ring changed (rotation): reload verification keys and the signer.
    case keysChanged

    public static let channel = "portcullis_identity"

    var payload: String {
        switch self {
        case .hierarchyChanged:
            return #"{"type":"hierarchy"}"#
        case .keysChanged:
            return #"{"type":"keys"}"#
        case let .revoked(revocation):
            let object: [String: Any] = [
                "type": "revocation", "kind": revocation.kind.rawValue, "value": revocation.value,
                "revoked_at": revocation.revokedAt.timeIntervalSince1970, "expires_at": revocation.expiresAt.timeIntervalSince1970,
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    init?(payload: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any],
            let type = object["type"] as? String
        else { return nil }
        switch type {
        case "hierarchy":
            self = .hierarchyChanged
        case "keys":
            self = .keysChanged
        case "revocation":
            guard let kind = (object["kind"] as? String).flatMap(Revocation.Kind.init(rawValue:)),
                let value = object["value"] as? String,
                let revokedAt = object["revoked_at"] as? Double, let expiresAt = object["expires_at"] as? Double
            else { return nil }
            self = .revoked(
                Revocation(
                    kind: kind, value: value, revokedAt: Date(timeIntervalSince1970: revokedAt),
                    expiresAt: Date(timeIntervalSince1970: expiresAt)))
        default:
            return nil
        }
    }
}

/// Something that must stop being accepted before it would expire by itself.
public struct Revocation: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A session id: refresh tokens, access tokens and cookies of that session.
        case session
        /// One access token, by `jti`.
        case token
        /// Every token of a user login or service name issued at or before `revokedAt`
        /// (disabling an account; rotating a service's secrets).
        case subject
        /// A client certificate, by serial (`Certificate.SerialNumber.hex`), until its notAfter:
        /// refused at the next TLS handshake on every gateway.
        case certificate
    }

    public var kind: Kind
    public var value: String
    public var revokedAt: Date
    /// After this, whatever was revoked has expired anyway and the entry can be forgotten.
    public var expiresAt: Date

    public init(kind: Kind, value: String, revokedAt: Date, expiresAt: Date) {
        self.kind = kind
        self.value = value
        self.revokedAt = revokedAt
        self.expiresAt = expiresAt
    }
}
