import ChildProcesses
import Foundation

/// A private PostgreSQL cluster in a directory (Debian's `initdb` and `pg_ctl`), listening on
/// loopback only, with a random password for the `portcullis` superuser kept beside it (mode
/// 0600). Started on demand and stopped with `stop()`; its data survives for the next run.
///
/// It picks up wherever an earlier run left it: a cluster that was never started or whose
/// `initdb` was interrupted, a `postmaster.pid` left by a crash, a server still running from a
/// run that was killed, a recorded port now taken by something else.
///
/// Run as root, the server runs as the unprivileged `postgres` account (PostgreSQL refuses
/// root), and the data lives where that account can reach it; `location` records where.
///
/// The one implementation: `portcullis up` keeps its cluster under the state directory, and
/// `scripts/pg` (the tests' and benchmarks' clusters) runs this through `portcullis local-postgres`.
public struct LocalPostgres: Sendable {
    let directory: URL
    /// Told what is happening, in words, while it happens.
    let progress: @Sendable (String) -> Void

    public init(directory: URL, progress: @escaping @Sendable (String) -> Void) {
        self.directory = directory
        self.progress = progress
    }

    enum Failure: Error, CustomStringConvertible {
        case serverNotInstalled
        case passwordMissing(cluster: String, passwordFile: String)
        case cannotPrepare(path: String, reason: String)
        case notStarted(String)

        var description: String {
            switch self {
            case .serverNotInstalled:
                "PostgreSQL server programs not found under /usr/lib/postgresql (apt-get install postgresql)"
            case let .passwordMissing(cluster, passwordFile):
                "the cluster in \(cluster) exists but its password file \(passwordFile) is gone; delete both to start over"
            case let .cannotPrepare(path, reason):
                "cannot prepare \(path): \(reason)"
            case let .notStarted(directory):
                "no PostgreSQL cluster was started in \(directory)"
            }
        }
    }

    private var isRoot: Bool { getuid() == 0 }
    private var serverAccount: String? { isRoot ? "postgres" : nil }
    private var passwordFile: String { directory.appendingPathComponent("password").path }

    /// Initialises the cluster on first use, starts it unless it runs (with `maxConnections` as the
    /// server's `max_connections`), and returns its database URL. `durable: false` is for a
    /// throwaway test cluster: no fsync and no full-page writes, so the test suite's hundreds of
    /// `CREATE DATABASE` and migrations do not queue on the disk (a crash loses it, which is fine).
    public func start(maxConnections: Int, durable: Bool = true) async throws -> String {
        let bin = try binaries()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let data = try await dataDirectory()
        if !FileManager.default.fileExists(atPath: data + "/PG_VERSION") {
            try await initialise(data, bin: bin)
        }
        guard let password = recorded("password") else {
            throw Failure.passwordMissing(cluster: data, passwordFile: passwordFile)
        }
        removeStaleLockFile(data)
        var port = recordedPort() ?? 0
        if try await isRunning(data, bin: bin) {
            progress("PostgreSQL is already running (port \(port))")
        } else {
            if port == 0 || !LocalPorts.isFree(port) { port = LocalPorts.free() }
            try String(port).write(to: directory.appendingPathComponent("port"), atomically: true, encoding: .utf8)
            progress("starting PostgreSQL on 127.0.0.1:\(port)")
            let settings =
                "-c listen_addresses=127.0.0.1 -p \(port) -k \(data) -c max_connections=\(maxConnections)"
                + (durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            try await ChildCommand(
                bin + "/pg_ctl", ["-D", data, "-l", data + "/../postgres.log", "-w", "-t", "60", "-o", settings, "start"],
                account: serverAccount, deadline: .seconds(90)
            ).run()
        }
        let psql = { (sql: String) in
            ChildCommand(
                "/usr/bin/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "portcullis", "-d", "postgres", "-Atqc", sql],
                environment: ["PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"], deadline: .seconds(30))
        }
        if !(try await psql("SELECT 1 FROM pg_database WHERE datname = 'portcullis'").run()).contains("1") {
            try await psql("CREATE DATABASE portcullis").run()
        }
        return Self.url(password: password, port: port)
    }

    /// The database URL of a cluster started earlier, from its password and port files.
    public func url() throws -> String {
        guard let password = recorded("password"), let port = recordedPort() else {
            throw Failure.notStarted(directory.path)
        }
        return Self.url(password: password, port: port)
    }

    private static func url(password: String, port: Int) -> String {
        "postgres://portcullis:\(password)@127.0.0.1:\(port)/portcullis?sslmode=disable"
    }

    /// Fast shutdown; the data stays.
    public func stop() async throws {
        guard let data = recordedLocation() else { return }
        let bin = try binaries()
        if try await isRunning(data, bin: bin) {
            progress("stopping PostgreSQL")
            try await ChildCommand(
                bin + "/pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"], account: serverAccount,
                deadline: .seconds(90)
            ).run()
        }
    }

    /// `initdb` into an empty data directory with a new password. Whatever an interrupted
    /// earlier attempt left there is cleared first (without PG_VERSION it never became a cluster).
    private func initialise(_ data: String, bin: String) async throws {
        progress("initialising a PostgreSQL cluster in \(data)")
        try? FileManager.default.removeItem(atPath: data)
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        let password = String((0..<24).map { _ in alphabet.randomElement()! })
        try createOwnerOnlyFile(atPath: passwordFile, contents: Data(password.utf8))
        let parent = (data as NSString).deletingLastPathComponent
        let initPassword = parent + "/initdb-password"
        try createOwnerOnlyFile(atPath: initPassword, contents: Data(password.utf8))
        defer { try? FileManager.default.removeItem(atPath: initPassword) }
        if let account = serverAccount {
            for path in [parent, data, initPassword] { try hand(path, to: account) }
        }
        try await ChildCommand(
            bin + "/initdb",
            [
                "-D", data, "-U", "portcullis", "--pwfile=" + initPassword, "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8",
            ],
            account: serverAccount, deadline: .seconds(180)
        ).run()
    }

    /// `pg_ctl status`: 0 when a server runs on this data directory, 3 when none does.
    private func isRunning(_ data: String, bin: String) async throws -> Bool {
        do {
            try await ChildCommand(bin + "/pg_ctl", ["-D", data, "status"], account: serverAccount, deadline: .seconds(30)).run()
            return true
        } catch ChildProcessError.failed(_, status: "exited with status 3", _) {
            return false
        }
    }

    /// A `postmaster.pid` whose process is gone, or is no PostgreSQL (its number was reused after
    /// a crash or a reboot), would make `pg_ctl` believe a server runs or refuse to start one.
    private func removeStaleLockFile(_ data: String) {
        let lockFile = data + "/postmaster.pid"
        guard let contents = try? String(contentsOfFile: lockFile, encoding: .utf8),
            let pid = contents.split(separator: "\n").first.flatMap({ Int32($0.trimmingCharacters(in: .whitespaces)) })
        else { return }
        let command = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if command != "postgres" {
            progress("removing the lock file of a PostgreSQL that no longer runs (pid \(pid))")
            try? FileManager.default.removeItem(atPath: lockFile)
        }
    }

    private func hand(_ path: String, to account: String) throws {
        guard let entry = getpwnam(account) else { throw Failure.cannotPrepare(path: path, reason: "no account named \(account)") }
        guard chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
            throw Failure.cannotPrepare(path: path, reason: String(cString: strerror(errno)))
        }
    }

    private func binaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/initdb") else {
            throw Failure.serverNotInstalled
        }
        return "\(root)/\(newest)/bin"
    }

    /// The data directory recorded by an earlier start.
    private func recordedLocation() -> String? {
        recorded("location")
    }

    private func recordedPort() -> Int? {
        recorded("port").flatMap { Int($0) }
    }

    /// A file of this directory, without the newline the bash `scripts/pg` of earlier versions ended
    /// its files with (clusters it made are still started here).
    private func recorded(_ name: String) -> String? {
        (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `DIR/data`, or for root a directory under /tmp that the `postgres` account (created first
    /// when the system has none) can reach.
    private func dataDirectory() async throws -> String {
        if let recorded = recordedLocation() { return recorded }
        var data = directory.appendingPathComponent("data").path
        if isRoot {
            if getpwnam("postgres") == nil {
                try await ChildCommand(
                    "/usr/sbin/useradd",
                    [
                        "--system", "--home-dir", "/var/lib/postgresql", "--shell", "/usr/sbin/nologin",
                        "postgres",
                    ]
                ).run()
            }
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-pg-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
            data = base.appendingPathComponent("data").path
        }
        try data.write(to: directory.appendingPathComponent("location"), atomically: true, encoding: .utf8)
        return data
    }
}
