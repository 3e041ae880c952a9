import Foundation

/// Account states. `locked` is set by an administrator (suspected compromise); throttling
/// after failed logins is separate and expires by itself.
public enum AccountStatus: String, Sendable, Codable, CaseIterable {
    case active, disabled, locked
}

/// A person. Never carries the password hash or the TOTP secret out of the store.
public struct User: Sendable, Equatable, Encodable {
    public var id: UUID
    public var login: String
    public var email: String
    public var displayName: String
    public var status: AccountStatus
    /// Whether a TOTP second factor is enrolled and confirmed.
    public var mfaEnrolled: Bool
    public var roles: [String]
    public var groups: [String]
    public var createdAt: Date
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, login, email, status, roles, groups
        case displayName = "display_name"
        case mfaEnrolled = "mfa_enrolled"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// UUIDs are written in lower case, as PostgreSQL and the audit trail show them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.uuidString.lowercased(), forKey: .id)
        try container.encode(login, forKey: .login)
        try container.encode(email, forKey: .email)
        try container.encode(displayName, forKey: .displayName)
        try container.encode(status, forKey: .status)
        try container.encode(mfaEnrolled, forKey: .mfaEnrolled)
        try container.encode(roles, forKey: .roles)
        try container.encode(groups, forKey: .groups)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// A role and the roles it is a member of (Cedar: `Role::"dispatcher" in Role::"staff"`).
public struct Role: Sendable, Equatable, Encodable {
    public var name: String
    public var description: String
    public var parents: [String]
}

public struct Group: Sendable, Equatable, Encodable {
    public var name: String
    public var description: String
}

/// A workload identity: authenticates with client secrets or, once bound, its SPIFFE certificate.
public struct ServiceAccount: Sendable, Equatable, Encodable {
    public var id: UUID
    public var name: String
    public var owner: String
    public var spiffeID: String?
    public var status: AccountStatus
    public var roles: [String]
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name, owner, status, roles
        case spiffeID = "spiffe_id"
        case createdAt = "created_at"
    }

    /// UUIDs are written in lower case, as PostgreSQL and the audit trail show them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.uuidString.lowercased(), forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(owner, forKey: .owner)
        try container.encodeIfPresent(spiffeID, forKey: .spiffeID)
        try container.encode(status, forKey: .status)
        try container.encode(roles, forKey: .roles)
        try container.encode(createdAt, forKey: .createdAt)
    }
}

/// Metadata of one client secret; the secret itself exists only in the response that created it.
public struct ServiceSecret: Sendable, Equatable, Encodable {
    public var id: UUID
    public var createdAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case revokedAt = "revoked_at"
    }

    /// UUIDs are written in lower case, as PostgreSQL and the audit trail show them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.uuidString.lowercased(), forKey: .id)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encodeIfPresent(revokedAt, forKey: .revokedAt)
    }
}

/// A login session. Refresh tokens and browser cookies refer to it by id; revoking it ends both.
public struct Session: Sendable, Equatable, Encodable {
    public var id: UUID
    public var userID: UUID
    public var login: String
    public var authMethods: [String]
    public var mfaAt: Date?
    public var clientAddress: String?
    public var userAgent: String
    public var createdAt: Date
    public var lastSeenAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, login
        case userID = "user_id"
        case authMethods = "auth_methods"
        case mfaAt = "mfa_at"
        case clientAddress = "client_address"
        case
            userAgent = "user_agent"
        case createdAt = "created_at"
        case lastSeenAt = "last_seen_at"
        case expiresAt = "expires_at"
        case
            revokedAt = "revoked_at"
    }

    /// UUIDs are written in lower case, as PostgreSQL and the audit trail show them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.uuidString.lowercased(), forKey: .id)
        try container.encode(userID.uuidString.lowercased(), forKey: .userID)
        try container.encode(login, forKey: .login)
        try container.encode(authMethods, forKey: .authMethods)
        try container.encodeIfPresent(mfaAt, forKey: .mfaAt)
        try container.encodeIfPresent(clientAddress, forKey: .clientAddress)
        try container.encode(userAgent, forKey: .userAgent)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastSeenAt, forKey: .lastSeenAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encodeIfPresent(revokedAt, forKey: .revokedAt)
    }
}

/// One page of a listing plus the cursor for the next (`nil` on the last page).
public struct Page<Item: Sendable & Encodable>: Sendable, Encodable {
    public var items: [Item]
    public var next: String?
}
