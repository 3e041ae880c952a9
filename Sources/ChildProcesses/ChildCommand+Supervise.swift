import Foundation
import Subprocess

extension ChildCommand {
    /// Runs the program for as long as `body` runs, in a process group of its own (a terminal's
    /// Ctrl-C reaches us, and we stop it in order). When `body` returns or throws, the child is
    /// stopped (SIGTERM, then SIGKILL after the grace period) before this returns. If the child
    /// ends first, `body` is cancelled and `ChildProcessError.endedEarly` is thrown with its output.
    /// The deadline does not apply: a supervised child lives as long as it is needed.
    public func supervise<T: Sendable>(output: CapturedOutput, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: SupervisionEvent<T>.self) { group in
            group.addTask {
                let status: TerminationStatus
                do {
                    status = try await self.spawn(output: output, ownProcessGroup: true)
                } catch is CancellationError {
                    return .childStopped
                }
                if Task.isCancelled { return .childStopped }
                throw ChildProcessError.endedEarly(command: self.description, status: Self.describe(status), output: output.text())
            }
            group.addTask { .bodyFinished(try await body()) }
            while let event = try await group.next() {
                if case let .bodyFinished(value) = event {
                    group.cancelAll()
                    while try await group.next() != nil {}
                    return value
                }
            }
            throw CancellationError()
        }
    }
}

private enum SupervisionEvent<T: Sendable>: Sendable {
    case bodyFinished(T)
    case childStopped
}
