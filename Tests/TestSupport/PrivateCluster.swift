import Database
import Foundation

/// A PostgreSQL cluster of the test's own (via `scripts/pg`), for tests that stop and restart
/// the server; the shared test cluster must stay up for the tests running beside them.
public final class PrivateCluster: Sendable {
    public let directory: String
    public let url: DatabaseURL

    private static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/pg").path
    }

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-private-pg-\(UUID().uuidString)").path
        url = try DatabaseURL(try Self.pg("start", directory))
    }

    public func stop() throws { _ = try Self.pg("stop", directory) }
    public func start() throws { _ = try Self.pg("start", directory) }

    /// Stops the server and removes its files.
    public func destroy() {
        _ = try? Self.pg("stop", directory)
        if let location = try? String(contentsOfFile: directory + "/location", encoding: .utf8) {
            try? FileManager.default.removeItem(
                atPath: (location.trimmingCharacters(in: .whitespacesAndNewlines) as NSString).deletingLastPathComponent)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    private static func pg(_ command: String, _ directory: String) throws -> String {
        // Output goes to files, not pipes: the server that `start` leaves running inherits the
        // child's descriptors, and a pipe it holds would never reach end-of-file.
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString).out")
        let errorURL = outputURL.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outputURL)
            try? FileManager.default.removeItem(at: errorURL)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = [command, directory]
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let status = ChildExit.waitBlocking(process)
        let text = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        let problems = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw PortcullisProcess.Failure(description: "scripts/pg \(command) failed: \(problems)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
