import AccessModel
import Foundation
import PostgresNIO

extension IdentityStore {
    /// Creates a role with its parents; a missing parent is refused (and nothing is created).
    public func createRole(name: String, description: String, parents: [String]) async throws(IdentityError) -> Role {
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                "INSERT INTO identity_roles (name, description) VALUES (\(name), \(description))", logger: logger)
            for parent in parents {
                try await Self.addParent(parent, to: name, on: connection, logger: logger)
            }
            try await Self.notify(.hierarchyChanged, on: connection, logger: logger)
        }
        return try await requireRole(name)
    }

    /// Makes `role` a member of `parent`, refusing any edge that would close a cycle.
    public func addRoleParent(role: String, parent: String) async throws(IdentityError) -> Role {
        let logger = self.logger
        try await transaction { connection in
            try await Self.addParent(parent, to: role, on: connection, logger: logger)
            try await Self.notify(.hierarchyChanged, on: connection, logger: logger)
        }
        return try await requireRole(role)
    }

    public func removeRoleParent(role: String, parent: String) async throws(IdentityError) -> Role {
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                "DELETE FROM identity_role_parents WHERE role = \(role) AND parent = \(parent)", logger: logger)
            try await Self.notify(.hierarchyChanged, on: connection, logger: logger)
        }
        return try await requireRole(role)
    }

    private static func addParent(_ parent: String, to role: String, on connection: PostgresConnection, logger: Logger) async throws {
        // One writer of the hierarchy at a time, so two concurrent edges cannot form a cycle together.
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext('identity_role_parents'))", logger: logger)
        guard role != parent else { throw IdentityError.conflict("role '\(role)' cannot be its own parent") }
        let rows = try await connection.query(
            """
            WITH RECURSIVE ancestors(name) AS (
                SELECT \(parent)::text
                UNION SELECT p.parent FROM identity_role_parents p JOIN ancestors a ON p.role = a.name
            )
            SELECT EXISTS (SELECT 1 FROM ancestors WHERE name = \(role))
            """, logger: logger)
        for try await cycle in rows.decode(Bool.self) where cycle {
            throw IdentityError.conflict("making '\(parent)' a parent of '\(role)' would create a cycle")
        }
        try await connection.query(
            """
            INSERT INTO identity_role_parents (role, parent) VALUES (\(role), \(parent)) ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    public func role(_ name: String) async throws(IdentityError) -> Role? {
        try await listRoles().first { $0.name == name }
    }

    public func requireRole(_ name: String) async throws(IdentityError) -> Role {
        guard let role = try await role(name) else { throw .notFound("role '\(name)'") }
        return role
    }

    /// Every role with its parents (roles are few; the gateway loads them all anyway).
    public func listRoles() async throws(IdentityError) -> [Role] {
        try await run {
            let rows = try await client.query(
                """
                SELECT r.name, r.description,
                    COALESCE((SELECT array_agg(p.parent ORDER BY p.parent) FROM identity_role_parents p WHERE p.role = r.name), '{}')
                FROM identity_roles r ORDER BY r.name
                """, logger: logger)
            var roles: [Role] = []
            for try await (name, description, parents) in rows.decode((String, String, [String]).self) {
                roles.append(Role(name: name, description: description, parents: parents))
            }
            return roles
        }
    }

    public func createGroup(name: String, description: String) async throws(IdentityError) -> Group {
        let logger = self.logger
        try await transaction { connection in
            try await connection.query(
                "INSERT INTO identity_groups (name, description) VALUES (\(name), \(description))", logger: logger)
            try await Self.notify(.hierarchyChanged, on: connection, logger: logger)
        }
        return Group(name: name, description: description)
    }

    /// Removes a group and every membership in it; policies that name it stop matching anyone.
    public func deleteGroup(name: String) async throws(IdentityError) -> Group {
        let logger = self.logger
        let deleted = try await transaction { connection -> Group? in
            let rows = try await connection.query(
                "DELETE FROM identity_groups WHERE name = \(name) RETURNING name, description", logger: logger)
            var deleted: Group?
            for try await (name, description) in rows.decode((String, String).self) { deleted = Group(name: name, description: description) }
            if deleted != nil { try await Self.notify(.hierarchyChanged, on: connection, logger: logger) }
            return deleted
        }
        guard let deleted else { throw .notFound("group '\(name)'") }
        return deleted
    }

    public func listGroups() async throws(IdentityError) -> [Group] {
        try await run {
            let rows = try await client.query("SELECT name, description FROM identity_groups ORDER BY name", logger: logger)
            var groups: [Group] = []
            for try await (name, description) in rows.decode((String, String).self) {
                groups.append(Group(name: name, description: description))
            }
            return groups
        }
    }

    /// Grants or revokes a role or a group membership for a user. Every gateway follows at once
    /// (the change is announced with it): open sessions and access tokens are decided on the
    /// user's current roles and groups, not those they were issued with.
    public func setUserMembership(
        login: String, _ membership: Membership, name: String, granted: Bool
    ) async throws(IdentityError) -> (before: User, after: User) {
        let before = try await requireUser(login: login)
        let logger = self.logger
        try await transaction { connection in
            switch (membership, granted) {
            case (.role, true):
                try await connection.query(
                    """
                    INSERT INTO identity_user_roles (user_id, role) VALUES (\(before.id), \(name)) ON CONFLICT DO NOTHING
                    """, logger: logger)
            case (.role, false):
                try await connection.query(
                    "DELETE FROM identity_user_roles WHERE user_id = \(before.id) AND role = \(name)", logger: logger)
            case (.group, true):
                try await connection.query(
                    """
                    INSERT INTO identity_user_groups (user_id, group_name) VALUES (\(before.id), \(name)) ON CONFLICT DO NOTHING
                    """, logger: logger)
            case (.group, false):
                try await connection.query(
                    "DELETE FROM identity_user_groups WHERE user_id = \(before.id) AND group_name = \(name)", logger: logger)
            }
            try await Self.notify(.hierarchyChanged, on: connection, logger: logger)
        }
        return (before, try await requireUser(login: login))
    }

    /// The whole role graph and group list, for `RoleHierarchy`.
    public func hierarchy() async throws(IdentityError) -> RoleHierarchy {
        let roles = try await listRoles()
        let groups = try await listGroups()
        return RoleHierarchy(roles: roles, groups: groups.map(\.name))
    }
}

/// The two kinds of membership a user or service can hold.
public enum Membership: String, Sendable {
    case role, group
}
