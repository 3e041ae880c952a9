import ArgumentParser

/// The composition root: parses arguments and hands them to the modules that do the work.
@main
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "Zero-trust access proxy and identity service.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, PolicyCommand.self, TokenCommand.self, KeysCommand.self, AuditCommand.self, CACommand.self,
            CertCommand.self,
            UserCommand.self, RoleCommand.self, GroupCommand.self, ServiceCommand.self, ClientCommand.self, BootstrapAdminCommand.self,
            UpCommand.self,
            LocalPostgresCommand.self,
        ]
    )
}
