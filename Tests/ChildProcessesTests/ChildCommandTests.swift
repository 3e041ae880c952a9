import ChildProcesses
import Foundation
import Testing

/// Real programs (`/bin/sh`, `/bin/sleep`, `/usr/bin/id`): the helper every part of Portcullis
/// uses to start one must finish, fail, time out and stop children as it says.
@Suite struct ChildCommandTests {
    @Test func returnsWhatTheChildPrintedOnBothStreams() async throws {
        let output = try await ChildCommand("/bin/sh", ["-c", "echo out; echo err >&2"]).run()
        #expect(output == "out\nerr\n")
    }

    @Test func aFailureNamesTheCommandItsStatusAndItsOutput() async throws {
        let error = await #expect(throws: ChildProcessError.self) {
            try await ChildCommand("/bin/sh", ["-c", "echo 'no such table'; exit 3"]).run()
        }
        guard case .failed(let command, let status, let output) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(command == "/bin/sh -c 'echo 'no such table'; exit 3'")
        #expect(status == "exited with status 3")
        #expect(output == "no such table\n")
        #expect(error?.description.contains("    no such table") == true)
    }

    @Test func aMissingProgramCannotStart() async throws {
        let error = await #expect(throws: ChildProcessError.self) { try await ChildCommand("/nonexistent/program").run() }
        guard case .cannotStart(let command, _) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(command == "/nonexistent/program")
    }

    /// The hang `portcullis up` had: the child is done but a daemon it started still holds its
    /// output. With a file instead of a pipe the caller does not wait for that daemon.
    @Test func aDaemonLeftBehindDoesNotHoldTheCaller() async throws {
        let started = ContinuousClock.now
        let output = try await ChildCommand("/bin/sh", ["-c", "/bin/sleep 600 & echo $!"], deadline: .seconds(300)).run()
        // Far below the daemon's 600 s (what a pipe would have waited for): the caller was not held.
        #expect(ContinuousClock.now - started < .seconds(120))
        let daemon = try #require(pid_t(output.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(daemon, SIGKILL)
    }

    @Test func aChildPastItsDeadlineIsStoppedAndReportedWithItsOutput() async throws {
        let started = ContinuousClock.now
        var command = ChildCommand("/bin/sh", ["-c", "echo waiting for a lock; exec /bin/sleep 600"], deadline: .milliseconds(500))
        command.gracePeriod = .seconds(1)
        let error = await #expect(throws: ChildProcessError.self) { try await command.run() }
        // Stopped, not waited for: far below the child's 600 s.
        #expect(ContinuousClock.now - started < .seconds(120))
        guard case .overran(_, let deadline, let output) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(deadline == .milliseconds(500))
        #expect(output == "waiting for a lock\n")
    }

    @Test func cancellingTheCallerStopsTheChild() async throws {
        let output = try CapturedOutput()
        let task = Task {
            try await ChildCommand("/bin/sh", ["-c", "echo $$; exec /bin/sleep 60"]).supervise(output: output) {
                try await Task.sleep(for: .seconds(60))
            }
        }
        let pid = try await Self.pid(in: output)
        task.cancel()
        _ = await task.result
        #expect(kill(pid, 0) != 0, "child \(pid) still runs")
    }

    @Test func aSupervisedChildIsStoppedWhenTheWorkEnds() async throws {
        let output = try CapturedOutput()
        let pid = try await ChildCommand("/bin/sh", ["-c", "echo $$; exec /bin/sleep 60"]).supervise(output: output) {
            try await Self.pid(in: output)
        }
        #expect(kill(pid, 0) != 0, "child \(pid) still runs")
    }

    @Test func aSupervisedChildThatEndsEarlyCancelsTheWork() async throws {
        let output = try CapturedOutput()
        let started = ContinuousClock.now
        let error = await #expect(throws: ChildProcessError.self) {
            try await ChildCommand("/bin/sh", ["-c", "echo port taken; exit 1"]).supervise(output: output) {
                try await Task.sleep(for: .seconds(600))
            }
        }
        // The work was cancelled, not waited for.
        #expect(ContinuousClock.now - started < .seconds(120))
        guard case .endedEarly(_, let status, let text) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(status == "exited with status 1")
        #expect(text == "port taken\n")
    }

    @Test(.enabled(if: getuid() == 0 && getpwnam("postgres") != nil, "needs root and a postgres account"))
    func runsAsAnotherAccountWithoutRootsGroups() async throws {
        let output = try await ChildCommand("/usr/bin/id", account: "postgres").run()
        let account = try #require(getpwnam("postgres")).pointee
        #expect(output.hasPrefix("uid=\(account.pw_uid)(postgres) gid=\(account.pw_gid)"), "\(output)")
        #expect(!output.contains("(root)"), "\(output)")
    }

    /// The first line the child printed: its process id.
    static func pid(in output: CapturedOutput) async throws -> pid_t {
        for _ in 0..<100 {
            if let line = output.text().split(separator: "\n").first, let pid = pid_t(line) { return pid }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CancellationError()
    }
}
