/// Why a child program did not do its job. Each case names the command and carries what the
/// child printed, so a failure is reported where it happened instead of as a hang or a bare status.
public enum ChildProcessError: Error, CustomStringConvertible, Equatable {
    /// The program could not be started (missing, not executable, unknown account).
    case cannotStart(command: String, reason: String)
    /// It ended with a non-zero status or by a signal.
    case failed(command: String, status: String, output: String)
    /// It ran past its deadline and was stopped.
    case overran(command: String, deadline: Duration, output: String)
    /// A supervised child ended while it was still needed.
    case endedEarly(command: String, status: String, output: String)

    public var description: String {
        switch self {
        case let .cannotStart(command, reason):
            "cannot start \(command): \(reason)"
        case let .failed(command, status, output):
            "\(command) \(status)" + Self.quoted(output)
        case let .overran(command, deadline, output):
            "\(command) did not finish within \(deadline.components.seconds) s and was stopped" + Self.quoted(output)
        case let .endedEarly(command, status, output):
            "\(command) \(status) while it was still needed" + Self.quoted(output)
        }
    }

    /// The last lines a child printed, indented under the message.
    private static func quoted(_ output: String) -> String {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: true).suffix(20)
        return lines.isEmpty ? " (no output)" : ":\n" + lines.map { "    " + $0 }.joined(separator: "\n")
    }
}
