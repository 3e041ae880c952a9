import Foundation
import Synchronization

/// The real `portcullis` binary (or another executable of this package), run as a child process
/// the way an operator runs it.
public final class PortcullisProcess: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// The debug build of `portcullis` in this checkout (what `swift build --build-tests` produced);
    /// `PORTCULLIS_BINARY` overrides it.
    public static var binaryURL: URL {
        if let path = ProcessInfo.processInfo.environment["PORTCULLIS_BINARY"] { return URL(fileURLWithPath: path) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/portcullis")
    }

    /// Another executable of this package built beside `portcullis` (e.g. `logistics-demo`).
    public static func siblingBinaryURL(_ name: String) -> URL {
        binaryURL.deletingLastPathComponent().appendingPathComponent(name)
    }

    private let process: Process
    private let output = CapturedOutput()

    public init(_ arguments: [String], environment: [String: String] = [:], executable: URL = binaryURL, workingDirectory: URL? = nil) throws {
        let process = Process()
        process.executableURL = executable
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["PORTCULLIS_DATABASE_URL"] = nil
        env["PORTCULLIS_CONFIG"] = nil
        env.merge(environment) { $1 }
        process.environment = env
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        self.process = process
        try process.run()
        output.drain(stdout.fileHandleForReading, \.stdout)
        output.drain(stderr.fileHandleForReading, \.stderr)
    }

    public var standardOutput: String { output.text(\.stdout) }

    public var isRunning: Bool { ChildExit.status(process) == nil }
    public var standardError: String { output.text(\.stderr) }

    /// Waits until a line of standard error satisfies `match`, and returns what `match` extracted.
    public func waitForLogLine<T>(timeout: Duration = .seconds(30), _ match: (String) -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            for line in standardError.split(separator: "\n") {
                if let value = match(String(line)) { return value }
            }
            guard isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "no matching log line; stderr was:\n\(standardError)\nstdout was:\n\(standardOutput)")
    }

    /// The admin listener's `host:port`, read from the `admin listener started` log line.
    public func adminAddress() async throws -> String {
        try await waitForLogLine { line in
            guard line.contains("admin listener started"),
                let data = line.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let address = object["address"] as? String
            else { return nil }
            // NIO prints "[IPv4]127.0.0.1/127.0.0.1:PORT".
            guard let port = address.split(separator: ":").last else { return nil }
            return "127.0.0.1:\(port)"
        }
    }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    public var processIdentifier: Int32 { process.processIdentifier }

    /// Waits for the process to end and returns its exit status.
    @discardableResult
    public func wait(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while ChildExit.status(process) == nil {
            guard ContinuousClock.now < deadline else {
                let stacks = Self.threadStacks(of: process.processIdentifier)
                process.terminate()
                throw Failure(
                    description:
                        "\(process.arguments ?? []) did not exit within \(timeout); stdout was:\n\(standardOutput)\nstderr was:\n\(standardError)\n"
                        + "its threads were:\n\(stacks)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Both pipes reach end-of-file once the child's output is all read; on a loaded machine that
        // can take much longer than the exit itself. A grandchild that kept a pipe open is waited for
        // no longer than a few seconds.
        let drained = ContinuousClock.now + .seconds(5)
        while output.closedPipes < 2, ContinuousClock.now < drained {
            try await Task.sleep(for: .milliseconds(10))
        }
        return ChildExit.waitBlocking(process)
    }

    /// Where a hung child's threads are, from gdb when the machine has it: a hang seen once in CI
    /// should say where it was.
    private static func threadStacks(of pid: Int32) -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") else { return "(no /usr/bin/gdb to show them)" }
        let gdb = Process()
        gdb.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        gdb.arguments = ["30", "/usr/bin/gdb", "-p", "\(pid)", "-batch", "-nx", "-ex", "thread apply all bt 25"]
        let pipe = Pipe()
        gdb.standardOutput = pipe
        gdb.standardError = FileHandle.nullDevice
        gdb.standardInput = FileHandle.nullDevice
        guard (try? gdb.run()) != nil else { return "(gdb did not start)" }
        let text = String(decoding: pipe.readToEndAndClose(), as: UTF8.self)
        ChildExit.waitBlocking(gdb)
        return text.split(separator: "\n").filter { $0.hasPrefix("#") || $0.hasPrefix("Thread") }.prefix(400).joined(separator: "\n")
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

/// What a child wrote to its standard output and error so far, and how many of the two pipes
/// reached end-of-file.
private final class CapturedOutput: Sendable {
    struct Streams {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var closedPipes = 0
    }

    private let streams = Mutex(Streams())

    var closedPipes: Int { streams.withLock { $0.closedPipes } }

    func text(_ stream: KeyPath<Streams, [UInt8]>) -> String {
        streams.withLock { String(decoding: $0[keyPath: stream], as: UTF8.self) }
    }

    /// Reads `handle` on a thread of its own with blocking read(2) until end-of-file. (Foundation's
    /// `readabilityHandler` lost the end of a child's output on a loaded machine.)
    func drain(_ handle: FileHandle, _ stream: WritableKeyPath<Streams, [UInt8]> & Sendable) {
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                streams.withLock { $0[keyPath: stream] += buffer[..<count] }
            }
            // Closed here: Foundation may keep the Process, and with it this pipe, indefinitely.
            try? handle.close()
            streams.withLock { $0.closedPipes += 1 }
        }
    }
}

/// Runs a real HTTP client nobody here wrote and returns (status, body).
public enum Curl {
    public static func get(_ url: String, extraArguments: [String] = []) throws -> (status: Int, body: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"] + extraArguments + [url]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.readToEndAndClose()
        ChildExit.waitBlocking(process)
        let text = String(decoding: data, as: UTF8.self)
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
            throw PortcullisProcess.Failure(description: "curl printed no status: \(text)")
        }
        return (status, String(text[..<newline]))
    }
}
