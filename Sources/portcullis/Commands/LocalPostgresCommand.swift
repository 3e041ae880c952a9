import ArgumentParser
import Composition
import Foundation

/// `portcullis local-postgres start|stop|url DIR`: a private PostgreSQL cluster in any directory,
/// the same code `portcullis up` keeps its cluster with. `scripts/pg` runs it for the tests and
/// benchmarks, so there is one implementation of the layout and its recoveries.
struct LocalPostgresCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-postgres",
        abstract: "A private PostgreSQL cluster in a directory, on a free loopback port (what scripts/pg runs).",
        discussion: """
            As root the server runs as the postgres account. The superuser is portcullis with a random password kept in \
            DIR/password (mode 0600); the database is portcullis.
            """,
        subcommands: [Start.self, Stop.self, URLCommand.self])

    /// The cluster's directory, as each subcommand takes it.
    struct Cluster: ParsableArguments {
        @Argument(help: "The cluster's directory (created on the first start).") var directory: String

        /// Silent but for the URL: callers read it with `$(scripts/pg start DIR)`.
        var postgres: LocalPostgres {
            LocalPostgres(directory: URL(fileURLWithPath: directory), progress: { _ in })
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Initialise (the first time) and start; prints the database URL.")
        @OptionGroup var cluster: Cluster
        /// The test suite opens many pools at once; `portcullis up` starts its cluster with 200.
        @Option(help: "The server's max_connections.") var maxConnections = 500
        @Flag(help: "A throwaway cluster (tests): no fsync, no full-page writes. Its data does not survive a crash.")
        var throwaway = false
        func run() async throws { print(try await cluster.postgres.start(maxConnections: maxConnections, durable: !throwaway)) }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop it (fast shutdown); the data stays in the directory.")
        @OptionGroup var cluster: Cluster
        func run() async throws { try await cluster.postgres.stop() }
    }

    struct URLCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "url", abstract: "Print the database URL of a started cluster.")
        @OptionGroup var cluster: Cluster
        func run() throws { print(try cluster.postgres.url()) }
    }
}
