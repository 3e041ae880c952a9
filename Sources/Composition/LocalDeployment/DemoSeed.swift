import Federation
import Foundation
import Identity
import Tokens
import Yams

/// The demo organisation of `deploy/demo/seed.yaml`: roles (with parents), groups, users with
/// their passwords, roles and groups, and service accounts bound to SPIFFE IDs. Read whole and
/// checked before anything is written; applying it only creates what does not exist yet.
public struct DemoSeed: Sendable, Equatable {
    public struct Role: Sendable, Equatable {
        public var name, description: String
        public var parents: [String]
    }
    public struct Group: Sendable, Equatable { public var name, description: String }
    public struct User: Sendable, Equatable {
        public var login, name, email, password: String
        public var roles, groups: [String]
        /// A second factor enrolled with this known secret (base32), so the demo can show MFA.
        public var totpSecret: String?
    }
    public struct Service: Sendable, Equatable {
        public var name, owner, spiffeID: String
        public var roles: [String]
    }

    /// The company's identity provider that `portcullis up --identity-provider` starts beside
    /// Portcullis (`deploy/demo/oidc_provider.py`): the people it knows, and which Portcullis
    /// roles and groups its groups grant.
    public struct IdentityProvider: Sendable, Equatable {
        public struct Person: Sendable, Equatable, Encodable {
            public var username, email, password: String
            public var groups: [String]
        }
        public var id, name: String
        public var groups: GroupMapping
        public var people: [Person]
    }

    public var roles: [Role] = []
    public var groups: [Group] = []
    public var users: [User] = []
    public var services: [Service] = []
    public var identityProvider: IdentityProvider?

    public static func load(path: String) throws(ConfigurationError) -> DemoSeed {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> DemoSeed {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw .syntax(SourceLocation(file: file, line: 1, column: 1), "\(error)")
        }
        guard let root else { return DemoSeed() }
        var top = try MappingReader(root, path: "", file: file)
        var seed = DemoSeed()
        for var item in try top.mappings("roles") ?? [] {
            seed.roles.append(
                Role(
                    name: try required(&item, "name"), description: try item.string("description") ?? "",
                    parents: try item.strings("parents") ?? []))
            try item.finish()
        }
        for var item in try top.mappings("groups") ?? [] {
            seed.groups.append(Group(name: try required(&item, "name"), description: try item.string("description") ?? ""))
            try item.finish()
        }
        for var item in try top.mappings("users") ?? [] {
            let secret = try item.string("totp_secret")
            if let secret, (Base32.decode(secret)?.count ?? 0) < 16 {
                throw .invalidValue(
                    item.location(of: "totp_secret"), path: item.join("totp_secret"),
                    reason: "expected a base32 secret of at least 128 bits (26 characters or more)")
            }
            seed.users.append(
                User(
                    login: try required(&item, "login"), name: try item.string("name") ?? "", email: try required(&item, "email"),
                    password: try required(&item, "password"), roles: try item.strings("roles") ?? [],
                    groups: try item.strings("groups") ?? [], totpSecret: secret))
            try item.finish()
        }
        for var item in try top.mappings("services") ?? [] {
            seed.services.append(
                Service(
                    name: try required(&item, "name"), owner: try item.string("owner") ?? "demo",
                    spiffeID: try required(&item, "spiffe_id"), roles: try item.strings("roles") ?? []))
            try item.finish()
        }
        if var provider = try top.mapping("identity_provider") {
            var people: [IdentityProvider.Person] = []
            for var person in try provider.mappings("people") ?? [] {
                people.append(
                    IdentityProvider.Person(
                        username: try required(&person, "username"), email: try required(&person, "email"),
                        password: try required(&person, "password"), groups: try person.strings("groups") ?? []))
                try person.finish()
            }
            var mapping = GroupMapping()
            if var groups = try provider.mapping("groups") { mapping = try PortcullisConfiguration.groupMapping(&groups) }
            seed.identityProvider = IdentityProvider(
                id: try required(&provider, "id"), name: try required(&provider, "name"), groups: mapping, people: people)
            try provider.finish()
        }
        try top.finish()
        return seed
    }

    private static func required(_ reader: inout MappingReader, _ key: String) throws(ConfigurationError) -> String {
        guard let value = try reader.string(key) else { throw reader.missing(key, hint: "every entry needs a \(key)") }
        return value
    }

    /// Creates whatever of the seed is missing, through the same store calls (and audit
    /// records) as the operator commands. Returns what it created, for the console.
    public func apply(with admin: IdentityAdministration) async throws -> [String] {
        var created: [String] = []
        let store = admin.store
        // Parents first: roles are listed parents-before-children in the seed.
        for role in roles where try await store.role(role.name) == nil {
            _ = try await store.createRole(
                name: try Names.identifier(role.name, field: "role"), description: role.description,
                parents: role.parents)
            admin.record("role.create", target: "Role::\"\(role.name)\"")
            created.append("role \(role.name)")
        }
        let existingGroups = Set(try await store.listGroups().map(\.name))
        for group in groups where !existingGroups.contains(group.name) {
            _ = try await store.createGroup(name: try Names.identifier(group.name, field: "group"), description: group.description)
            admin.record("group.create", target: "Group::\"\(group.name)\"")
            created.append("group \(group.name)")
        }
        for user in users where try await store.user(login: user.login) == nil {
            let account = try await admin.createUser(
                login: user.login, email: user.email, name: user.name, password: user.password,
                roles: user.roles, groups: user.groups)
            created.append("user \(account.login)")
            if let secret = user.totpSecret.flatMap(Base32.decode) {
                _ = try await admin.service.enrolTOTP(user: account, secret: secret)
                created.append("second factor of \(account.login)")
            }
        }
        for service in services where try await store.service(service.name) == nil {
            _ = try await store.createService(name: service.name, owner: service.owner, spiffeID: service.spiffeID, roles: service.roles)
            admin.record("service.create", target: "Service::\"\(service.name)\"")
            created.append("service \(service.name)")
        }
        return created
    }
}
