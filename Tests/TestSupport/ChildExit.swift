import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Waiting for a child process without trusting Foundation to notice its exit.
///
/// On Linux, Foundation's `Process` reaps its children when it is told of their SIGCHLD, and in
/// a busy test process it sometimes never is: the child stays a zombie, `isRunning` stays true
/// and `waitUntilExit()` never returns. Here the exit is read with `waitid(…, WNOWAIT)`, which sees
/// a zombie without reaping it, so either way the wait ends with the child's status.
public enum ChildExit {
    /// The exit status if the child has ended (128 + signal if a signal ended it), else nil.
    public static func status(_ process: Process) -> Int32? {
        if !process.isRunning { return process.terminationStatus }
        var info = siginfo_t()
        let pid = process.processIdentifier
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info._sifields._sigchld.si_pid == pid else {
            return nil  // still running, or Foundation reaped it just now (isRunning turns false)
        }
        let status = info._sifields._sigchld.si_status
        return info.si_code == CLD_EXITED ? status : 128 + status
    }

    /// Waits without holding a Swift-concurrency thread: a child that talks to a server in this
    /// test process must leave the cooperative pool free to answer it.
    public static func wait(_ process: Process) async throws -> Int32 {
        while true {
            if let status = status(process) { return status }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits on the calling thread, for synchronous helpers whose child never calls back into
    /// this process (curl against a separate gateway process, openssl, scripts/pg).
    @discardableResult
    public static func waitBlocking(_ process: Process) -> Int32 {
        while true {
            if let status = status(process) { return status }
            usleep(5_000)
        }
    }
}
