import Foundation

/// A private PostgreSQL cluster in a directory (Debian's `initdb` and `pg_ctl`), listening on
/// loopback only, with a random password for the `portcullis` superuser kept beside it (mode
/// 0600). Started on demand and stopped with `stop()`; its data survives for the next run.
///
/// Run as root, the server runs as the unprivileged `postgres` user (PostgreSQL refuses root),
/// and the data lives where that user can reach it; `location` records where.
struct LocalPostgres {
    let directory: URL

    enum Failure: Error, CustomStringConvertible {
        case serverNotInstalled
        case command(String, status: Int32, output: String)

        var description: String {
            switch self {
            case .serverNotInstalled: "PostgreSQL server programs not found under /usr/lib/postgresql (apt-get install postgresql)"
            case let .command(command, status, output): "\(command) exited \(status): \(output)"
            }
        }
    }

    private var isRoot: Bool { getuid() == 0 }

    /// Initialises the cluster on first use and starts it; returns its database URL.
    func start() throws -> String {
        let bin = try binaries()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let data = try dataDirectory()
        let passwordFile = directory.appendingPathComponent("password")
        if !FileManager.default.fileExists(atPath: data + "/PG_VERSION") {
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let password = (0..<24).map { _ in "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789".randomElement()! }
            try createOwnerOnlyFile(atPath: passwordFile.path, contents: Data(String(password).utf8))
            let pwfile = data + "/../initdb-password"
            try createOwnerOnlyFile(atPath: pwfile, contents: Data(String(password).utf8))
            defer { try? FileManager.default.removeItem(atPath: pwfile) }
            if isRoot { try run("/bin/chown", ["-R", "postgres:", (data as NSString).deletingLastPathComponent]) }
            try asServer(bin + "/initdb", ["-D", data, "-U", "portcullis", "--pwfile=" + pwfile, "--auth-local=scram-sha-256",
                                           "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"])
        }
        let password = try String(contentsOf: passwordFile, encoding: .utf8)
        let portFile = directory.appendingPathComponent("port")
        var port = Int((try? String(contentsOf: portFile, encoding: .utf8)) ?? "") ?? 0
        if (try? asServer(bin + "/pg_ctl", ["-D", data, "status"])) == nil {
            if port == 0 || !Self.isFree(port) { port = Self.freePort() }
            try String(port).write(to: portFile, atomically: true, encoding: .utf8)
            try asServer(bin + "/pg_ctl", ["-D", data, "-l", data + "/../postgres.log", "-w", "-t", "60", "-o",
                                           "-c listen_addresses=127.0.0.1 -p \(port) -k \(data) -c max_connections=200", "start"])
        }
        let url = "postgres://portcullis:\(password)@127.0.0.1:\(port)/portcullis?sslmode=disable"
        let exists = try run("/usr/bin/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "portcullis", "-d", "postgres", "-Atqc",
                                               "SELECT 1 FROM pg_database WHERE datname = 'portcullis'"], environment: ["PGPASSWORD": password])
        if !exists.contains("1") {
            try run("/usr/bin/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "portcullis", "-d", "postgres", "-qc", "CREATE DATABASE portcullis"],
                    environment: ["PGPASSWORD": password])
        }
        return url
    }

    /// Fast shutdown; the data stays.
    func stop() throws {
        guard let data = recordedLocation() else { return }
        let bin = try binaries()
        if (try? asServer(bin + "/pg_ctl", ["-D", data, "status"])) != nil {
            try asServer(bin + "/pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"])
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

    /// The data directory recorded by an earlier start, by this code or by `scripts/pg` (which
    /// shares the layout and ends the file with a newline).
    private func recordedLocation() -> String? {
        (try? String(contentsOf: directory.appendingPathComponent("location"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `DIR/data`, or for root a directory under /tmp the `postgres` user can reach.
    private func dataDirectory() throws -> String {
        let location = directory.appendingPathComponent("location")
        if let recorded = recordedLocation() { return recorded }
        var data = directory.appendingPathComponent("data").path
        if isRoot {
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-pg-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
            data = base.appendingPathComponent("data").path
        }
        try data.write(to: location, atomically: true, encoding: .utf8)
        return data
    }

    @discardableResult
    private func asServer(_ program: String, _ arguments: [String]) throws -> String {
        isRoot ? try run("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments) : try run(program, arguments)
    }

    /// Runs a program to completion with no inherited descriptors but a log pipe; its output
    /// comes back, or its failure with the output.
    @discardableResult
    private func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-up-\(UUID().uuidString).log")
        try createOwnerOnlyFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw Failure.command(([program] + arguments).joined(separator: " "), status: process.terminationStatus, output: output)
        }
        return output
    }

    static func freePort() -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 ? getsockname(socket, pointer, &length) : -1
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func isFree(_ port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
