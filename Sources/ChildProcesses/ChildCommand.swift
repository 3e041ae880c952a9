import Foundation

/// A program to run as a child of this process: what it is, its arguments, the environment it
/// adds, whom it runs as, and how long it may take. Every program Portcullis starts (PostgreSQL's
/// tools, the demo services) is described by one, so each gets a deadline and a report that names it.
public struct ChildCommand: Sendable, CustomStringConvertible {
    /// An absolute path: nothing is looked up in `PATH`, so what runs is what was named.
    public var program: String
    public var arguments: [String]
    /// Added to (or replacing entries of) this process's environment.
    public var environment: [String: String]
    /// Run as this system account (only root can); `nil` runs as the current user.
    public var account: String?
    /// The child is stopped (SIGTERM, then SIGKILL after `gracePeriod`) when it runs longer.
    public var deadline: Duration
    /// How long a stopped child has to exit after SIGTERM before it is killed.
    public var gracePeriod: Duration = .seconds(5)
    public var workingDirectory: String?

    public init(
        _ program: String, _ arguments: [String] = [], environment: [String: String] = [:], account: String? = nil,
        deadline: Duration = .seconds(60)
    ) {
        self.program = program
        self.arguments = arguments
        self.environment = environment
        self.account = account
        self.deadline = deadline
    }

    /// The command line as a person would type it (environment values are left out: they may be secrets).
    public var description: String {
        ([program] + arguments).map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}
