import ArgumentParser
import Composition
import Federation
import Foundation
import Identity

/// Operator commands on the identity store. Each opens the configured database, changes one
/// thing, records it in the audit trail, and prints the result. Errors exit with status 1 and
/// one line on stderr.
enum IdentityCommandRunner {
    static func run(
        _ options: ConfigurationOptions, _ name: String, _ body: @escaping @Sendable (IdentityAdministration) async throws -> Void
    ) async throws {
        try await run(options, name) { admin, _ in try await body(admin) }
    }

    /// The same, for commands that also read the configuration (loaded once: it sets up logging).
    static func run(
        _ options: ConfigurationOptions, _ name: String,
        _ body: @escaping @Sendable (IdentityAdministration, PortcullisConfiguration) async throws -> Void
    ) async throws {
        let (configuration, logger) = try options.load()
        do {
            try await IdentityAdministration.run(configuration: configuration, logger: logger) { admin in try await body(admin, configuration) }
        } catch {
            FileHandle.standardError.write(Data("portcullis \(name): \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// The password from standard input (first line), or a generated one-time password.
    static func password(fromStandardInput: Bool) -> (password: String, generated: Bool) {
        if fromStandardInput, let line = readLine(strippingNewline: true) { return (line, false) }
        return (AdminOperations.oneTimePassword(), true)
    }

    /// Every item of a paginated listing, page after page.
    static func forEachPage<Item>(_ fetch: (String?) async throws -> Page<Item>, _ body: (Item) -> Void) async throws {
        var after: String?
        repeat {
            let page = try await fetch(after)
            page.items.forEach(body)
            after = page.next
        } while after != nil
    }

    static func describe(_ user: User) -> String {
        let mfa = user.mfaEnrolled ? "mfa" : "no-mfa"
        return
            "\(user.login)\t\(user.email)\t\(user.status.rawValue)\t\(mfa)\troles=\(user.roles.joined(separator: ","))\tgroups=\(user.groups.joined(separator: ","))"
    }

    static func describe(_ service: ServiceAccount) -> String {
        "\(service.name)\t\(service.status.rawValue)\towner=\(service.owner)\tspiffe=\(service.spiffeID ?? "-")\troles=\(service.roles.joined(separator: ","))"
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage people: add, list, disable, enable, passwd, mfa-reset, unlock.",
        subcommands: [Add.self, List.self, Disable.self, Enable.self, Passwd.self, MFAReset.self, Unlock.self, Link.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user. Without --password-stdin a one-time password is printed once.")
        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "Login (case-insensitive).") var login: String
        @Option(help: "E-mail address.") var email: String
        @Option(help: "Display name.") var name: String = ""
        @Option(help: "Role to grant (repeatable).") var role: [String] = []
        @Option(help: "Group to join (repeatable).") var group: [String] = []
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false

        func run() async throws {
            let (login, email, name, roles, groups) = (login, email, name, role, group)
            let (password, generated) = IdentityCommandRunner.password(fromStandardInput: passwordStdin)
            try await IdentityCommandRunner.run(options, "user add") { admin in
                let user = try await admin.createUser(
                    login: login, email: email, name: name, password: password, oneTimePassword: generated, roles: roles, groups: groups)
                print(IdentityCommandRunner.describe(user))
                if generated { print("one-time password (shown once): \(password)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            try await IdentityCommandRunner.run(options, "user list") { admin in
                try await IdentityCommandRunner.forEachPage({ try await admin.store.listUsers(after: $0, limit: 100) }) { user in
                    print(IdentityCommandRunner.describe(user))
                }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user: sessions end and tokens are rejected everywhere.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var login: String

        func run() async throws { try await setStatus(options, login, .disabled) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-enable a disabled or locked user.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var login: String

        func run() async throws { try await setStatus(options, login, .active) }
    }

    static func setStatus(_ options: ConfigurationOptions, _ login: String, _ status: AccountStatus) async throws {
        try await IdentityCommandRunner.run(options, "user") { admin in
            let (_, after) = try await admin.store.setStatus(
                login: try Names.login(login), status,
                revocationLifetime: admin.service.settings.revocationLifetime)
            admin.record("user.status", target: "User::\"\(after.login)\"", details: #"{"status":"\#(status.rawValue)"}"#)
            print(IdentityCommandRunner.describe(after))
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a user's password and end their sessions and tokens (one-time password printed unless --password-stdin).")
        @OptionGroup var options: ConfigurationOptions
        @Argument var login: String
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false

        func run() async throws {
            let login = login
            let (password, generated) = IdentityCommandRunner.password(fromStandardInput: passwordStdin)
            try await IdentityCommandRunner.run(options, "user passwd") { admin in
                let checked = try Names.login(login)
                try await admin.store.replacePassword(
                    login: checked, hash: try await admin.service.hashPassword(password), oneTime: generated,
                    revocationLifetime: admin.service.settings.revocationLifetime)
                admin.record("user.password", target: "User::\"\(checked)\"")
                print("password changed for \(checked)")
                if generated { print("one-time password (shown once): \(password)") }
            }
        }
    }

    struct MFAReset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mfa-reset", abstract: "Remove a user's second factor (lost device); their sessions end.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var login: String

        func run() async throws {
            let login = login
            try await IdentityCommandRunner.run(options, "user mfa-reset") { admin in
                let user = try await admin.store.resetMFA(
                    login: try Names.login(login), revocationLifetime: admin.service.settings.revocationLifetime)
                admin.record("user.mfa_reset", target: "User::\"\(user.login)\"")
                print(IdentityCommandRunner.describe(user))
            }
        }
    }

    struct Link: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Link a person's identity at an identity provider to an existing user (sign-in never links by login alone).")
        @OptionGroup var options: ConfigurationOptions
        @Argument var login: String
        @Option(help: "The provider's id (federation.providers).") var provider: String
        @Option(help: "The person's subject (sub) at the provider.") var subject: String

        func run() async throws {
            let (login, provider, subject) = (login, provider, subject)
            try await IdentityCommandRunner.run(options, "user link") { admin, configuration in
                guard let settings = configuration.federation.first(where: { $0.id == provider }) else {
                    throw IdentityError.notFound("identity provider '\(provider)' in the configuration")
                }
                let user = try await admin.operations.linkIdentity(
                    login: login, provider: provider, issuer: settings.issuer.absoluteString, subject: subject)
                print("linked \(provider) subject \(subject) to \(user.login)")
            }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a login throttle early (forget the login's failed attempts).")
        @OptionGroup var options: ConfigurationOptions
        @Argument var login: String

        func run() async throws {
            let login = login
            try await IdentityCommandRunner.run(options, "user unlock") { admin in
                let checked = try Names.login(login)
                try await admin.store.clearFailedAttempts(login: checked)
                admin.record("user.unlock", target: "User::\"\(checked)\"")
                print("failed attempts cleared for \(checked)")
            }
        }
    }
}

struct RoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "role", abstract: "Manage roles: add, grant, revoke, list.", subcommands: [Add.self, Grant.self, Revoke.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a role, optionally inside parent roles.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var name: String
        @Option(help: "Parent role (repeatable): members of this role are members of the parent.") var parent: [String] = []
        @Option(help: "Description.") var description: String = ""

        func run() async throws {
            let (name, parents, description) = (name, parent, description)
            try await IdentityCommandRunner.run(options, "role add") { admin in
                let role = try await admin.store.createRole(
                    name: try Names.identifier(name, field: "name"), description: try Names.text(description, field: "description"),
                    parents: try parents.map { parent throws(IdentityError) in try Names.identifier(parent, field: "parent") })
                admin.record("role.create", target: "Role::\"\(role.name)\"")
                print("\(role.name)\tparents=\(role.parents.joined(separator: ","))")
            }
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a role to a user or a service account.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var role: String
        @Option var user: String?
        @Option var service: String?

        func validate() throws {
            guard (user == nil) != (service == nil) else { throw ValidationError("give exactly one of --user or --service") }
        }

        func run() async throws { try await RoleCommand.change(options, role: role, user: user, service: service, granted: true) }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a role away from a user or a service account.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var role: String
        @Option var user: String?
        @Option var service: String?

        func validate() throws {
            guard (user == nil) != (service == nil) else { throw ValidationError("give exactly one of --user or --service") }
        }

        func run() async throws { try await RoleCommand.change(options, role: role, user: user, service: service, granted: false) }
    }

    static func change(_ options: ConfigurationOptions, role: String, user: String?, service: String?, granted: Bool) async throws {
        let verb = granted ? "grant" : "revoke"
        try await IdentityCommandRunner.run(options, "role \(verb)") { admin in
            let role = try Names.identifier(role, field: "role")
            if let user {
                let after = try await admin.store.setUserMembership(login: try Names.login(user), .role, name: role, granted: granted).after
                admin.record("user.role.\(verb)", target: "User::\"\(after.login)\"", details: #"{"role":"\#(role)"}"#)
                print(IdentityCommandRunner.describe(after))
            } else if let service {
                let after = try await admin.store.setServiceRole(name: try Names.identifier(service, field: "service"), role: role, granted: granted)
                admin.record("service.role.\(verb)", target: "Service::\"\(after.name)\"", details: #"{"role":"\#(role)"}"#)
                print(IdentityCommandRunner.describe(after))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List roles with their parents.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            try await IdentityCommandRunner.run(options, "role list") { admin in
                for role in try await admin.store.listRoles() {
                    print("\(role.name)\tparents=\(role.parents.joined(separator: ","))\t\(role.description)")
                }
            }
        }
    }
}

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "Manage groups (Cedar parents such as suspended or contractors): add, list, remove, add-member, remove-member.",
        subcommands: [Add.self, List.self, Remove.self, AddMember.self, RemoveMember.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a group.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var name: String
        @Option(help: "Description.") var description: String = ""

        func run() async throws {
            let (name, description) = (name, description)
            try await IdentityCommandRunner.run(options, "group add") { admin in
                let group = try await admin.operations.createGroup(name: name, description: description)
                print("\(group.name)\t\(group.description)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List groups.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            try await IdentityCommandRunner.run(options, "group list") { admin in
                for group in try await admin.store.listGroups() { print("\(group.name)\t\(group.description)") }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a group and every membership in it.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var name: String

        func run() async throws {
            let name = name
            try await IdentityCommandRunner.run(options, "group remove") { admin in
                let group = try await admin.operations.deleteGroup(name: name)
                print("removed \(group.name)")
            }
        }
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-member", abstract: "Put a user in a group.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var group: String
        @Option(help: "The user's login.") var user: String

        func run() async throws { try await GroupCommand.change(options, group: group, user: user, member: true) }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-member", abstract: "Take a user out of a group.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var group: String
        @Option(help: "The user's login.") var user: String

        func run() async throws { try await GroupCommand.change(options, group: group, user: user, member: false) }
    }

    static func change(_ options: ConfigurationOptions, group: String, user: String, member: Bool) async throws {
        try await IdentityCommandRunner.run(options, member ? "group add-member" : "group remove-member") { admin in
            let after = try await admin.operations.setMembership(login: try Names.login(user), .group, name: group, granted: member)
            print(IdentityCommandRunner.describe(after))
        }
    }
}

struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service", abstract: "Manage service accounts: add, secret-rotate, join-token, list, disable, enable.",
        subcommands: [Add.self, SecretRotate.self, JoinToken.self, List.self, Disable.self, Enable.self])

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a service account: its tokens are rejected and its certificates refused everywhere; its open calls close.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var name: String

        func run() async throws { try await ServiceCommand.setStatus(options, name, .disabled) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-enable a disabled service account (tokens issued before it was disabled stay revoked).")
        @OptionGroup var options: ConfigurationOptions
        @Argument var name: String

        func run() async throws { try await ServiceCommand.setStatus(options, name, .active) }
    }

    static func setStatus(_ options: ConfigurationOptions, _ name: String, _ status: AccountStatus) async throws {
        try await IdentityCommandRunner.run(options, "service") { admin in
            let after = try await admin.operations.setServiceStatus(name: try Names.identifier(name, field: "name"), status)
            print(IdentityCommandRunner.describe(after))
        }
    }

    struct JoinToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "join-token",
            abstract: "Create a one-time join token for a service's first certificate (printed once).",
            discussion: "The service obtains its certificate with `portcullis cert renew --from <prefix> --url <gateway> --join-token <token>`.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var name: String
        @Option(help: "Lifetime: 30s, 10m, 1h…") var ttl = "10m"

        func run() async throws {
            guard let lifetime = CertCommand.Issue.seconds(ttl) else { throw ValidationError("--ttl must look like 30s, 10m or 1h") }
            let name = name
            try await IdentityCommandRunner.run(options, "service join-token") { admin in
                let checked = try Names.identifier(name, field: "name")
                let (token, service, expiresAt) = try await admin.operations.newJoinToken(service: checked, lifetime: lifetime)
                print(
                    "join token for \(service.spiffeID ?? service.name) (shown once, single use, expires \(expiresAt.formatted(.iso8601))): \(token)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a service account and its first client secret (printed once).")
        @OptionGroup var options: ConfigurationOptions
        @Argument var name: String
        @Option(help: "Team or person responsible.") var owner: String = ""
        @Option(help: "SPIFFE ID its certificates carry, e.g. spiffe://logistics.internal/billing.") var spiffeID: String?
        @Option(help: "Role to grant (repeatable).") var role: [String] = []

        func run() async throws {
            let (name, owner, spiffeID, roles) = (name, owner, spiffeID, role)
            try await IdentityCommandRunner.run(options, "service add") { admin in
                let service = try await admin.store.createService(
                    name: try Names.identifier(name, field: "name"), owner: try Names.text(owner, field: "owner"),
                    spiffeID: try spiffeID.map { value throws(IdentityError) in try Names.spiffeID(value) },
                    roles: try roles.map { role throws(IdentityError) in try Names.identifier(role, field: "role") })
                let (secret, metadata) = try await admin.service.newServiceSecret(service: service.name, lifetime: nil, revokeOthers: false)
                admin.record("service.create", target: "Service::\"\(service.name)\"")
                print(IdentityCommandRunner.describe(service))
                print("client secret (shown once, expires \(metadata.expiresAt.formatted(.iso8601))): \(secret)")
            }
        }
    }

    struct SecretRotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "secret-rotate",
            abstract: "Add a new client secret; old ones keep working until they expire unless --revoke-others.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var name: String
        @Flag(help: "Revoke every other secret of the service and its outstanding tokens now (suspected leak).") var revokeOthers = false

        func run() async throws {
            let (name, revokeOthers) = (name, revokeOthers)
            try await IdentityCommandRunner.run(options, "service secret-rotate") { admin in
                let checked = try Names.identifier(name, field: "name")
                let (secret, metadata) = try await admin.service.newServiceSecret(service: checked, lifetime: nil, revokeOthers: revokeOthers)
                admin.record("service.secret.create", target: "Service::\"\(checked)\"", details: #"{"revoke_others":\#(revokeOthers)}"#)
                print("client secret (shown once, expires \(metadata.expiresAt.formatted(.iso8601))): \(secret)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List service accounts.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            try await IdentityCommandRunner.run(options, "service list") { admin in
                try await IdentityCommandRunner.forEachPage({ try await admin.store.listServices(after: $0, limit: 100) }) { service in
                    print(IdentityCommandRunner.describe(service))
                }
            }
        }
    }
}

struct BootstrapAdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap-admin",
        abstract: "Create the first security administrator and print a one-time password once.",
        discussion: "Refuses when any user already holds the security-admin role: later admins are created through the admin API.")
    @OptionGroup var options: ConfigurationOptions
    @Option(help: "Login of the administrator.") var login: String = "admin"
    @Option(help: "E-mail address.") var email: String

    func run() async throws {
        let (login, email) = (login, email)
        try await IdentityCommandRunner.run(options, "bootstrap-admin") { admin in
            let role = "security-admin"
            if try await admin.store.role(role) == nil {
                _ = try await admin.store.createRole(name: role, description: "Administers identities, policies and the audit trail", parents: [])
                admin.record("role.create", target: "Role::\"\(role)\"")
            }
            var existing: String?
            try await IdentityCommandRunner.forEachPage({ try await admin.store.listUsers(after: $0, limit: 100) }) { user in
                if user.roles.contains(role) { existing = existing ?? user.login }
            }
            if let existing {
                throw IdentityError.conflict("'\(existing)' is already a security admin; bootstrap runs only once")
            }
            let password = AdminOperations.oneTimePassword()
            var user = try await admin.store.createUser(
                login: try Names.login(login), email: try Names.email(email),
                displayName: "Security administrator",
                passwordHash: try await admin.service.hashPassword(password))
            user = try await admin.store.setUserMembership(login: user.login, .role, name: role, granted: true).after
            admin.record("user.bootstrap_admin", target: "User::\"\(user.login)\"")
            print(IdentityCommandRunner.describe(user))
            print("one-time password (shown once): \(password)")
        }
    }
}
