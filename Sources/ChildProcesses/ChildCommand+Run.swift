import Foundation
import Subprocess
import SystemPackage

extension ChildCommand {
    /// Runs the program to its end and returns what it printed (standard output and error
    /// together). A non-zero status, a signal, or running past `deadline` (after which the child
    /// is stopped) throws a `ChildProcessError` with the output; cancelling the calling task stops
    /// the child the same way and rethrows the cancellation.
    @discardableResult
    public func run() async throws -> String {
        let output = try CapturedOutput()
        let deadline = self.deadline
        let status: TerminationStatus? = try await withThrowingTaskGroup(of: TerminationStatus?.self) { group in
            group.addTask { try await self.spawn(output: output, ownProcessGroup: false) }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        guard let status else { throw ChildProcessError.overran(command: description, deadline: deadline, output: output.text()) }
        guard status.isSuccess else { throw ChildProcessError.failed(command: description, status: Self.describe(status), output: output.text()) }
        return output.text()
    }

    /// Starts the program with its output in `output`, its input from /dev/null, and the
    /// teardown that cancellation applies: SIGTERM, then SIGKILL after the grace period.
    func spawn(output: CapturedOutput, ownProcessGroup: Bool) async throws -> TerminationStatus {
        var options = PlatformOptions()
        options.teardownSequence = [.send(signal: .terminate, allowedDurationToNextStep: gracePeriod)]
        if ownProcessGroup { options.processGroupID = 0 }
        var directory = workingDirectory
        var executable = program
        var argumentList = arguments
        if let account {
            guard getpwnam(account) != nil else { throw ChildProcessError.cannotStart(command: description, reason: "no account named \(account)") }
            // Through runuser (util-linux), not swift-subprocess's userID/groupID: those take its
            // fork path, whose child calls glibc's setgroups, which in a forked child of a
            // multi-threaded process can wait forever for threads that no longer exist (seen:
            // `portcullis up` hung in initdb's spawn under the full test suite; gdb showed the
            // child in __nptl_setxid). posix_spawn, which runuser goes through, has no such step.
            executable = "/usr/sbin/runuser"
            argumentList = ["-u", account, "--", program] + arguments
            // Our working directory may be closed to that account (root's home is).
            directory = directory ?? "/"
        }
        var overrides: [Environment.Key: String?] = [:]
        for (name, value) in environment {
            guard let key = Environment.Key(rawValue: name) else { continue }
            overrides[key] = value
        }
        let childDescriptor = try output.duplicateForChild()
        do {
            return try await Subprocess.run(
                .path(FilePath(executable)), arguments: Arguments(argumentList), environment: .inherit.updating(overrides),
                workingDirectory: directory.map { FilePath($0) }, platformOptions: options, input: .none,
                output: .fileDescriptor(FileDescriptor(rawValue: childDescriptor), closeAfterSpawningProcess: true),
                error: .combinedWithOutput
            ).terminationStatus
        } catch let error as SubprocessError {
            throw ChildProcessError.cannotStart(command: description, reason: "\(error)")
        }
    }

    /// "exited with status 1", "was killed by signal 9".
    static func describe(_ status: TerminationStatus) -> String {
        switch status {
        case let .exited(code): "exited with status \(code)"
        case let .signaled(signal): "was killed by signal \(signal)"
        }
    }
}
