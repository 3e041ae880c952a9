/// Background work (a connection pool, an audit writer) that a command needs only while it runs.
public enum BackgroundWork {
    /// Runs each of `work` while `body` runs. Afterwards they are stopped one at a time, last
    /// first, because later work uses earlier work: an audit writer still stores its last batch
    /// through the pool, and a pool stopped under a writer's pending lease can leave the lease
    /// unanswered (seen in CI: a finished `policy history` that never exited). Each is cancelled
    /// and given `grace` to end; a command has done what it was asked, so it ends either way.
    /// Returns `body`'s result, and whether everything stopped within its grace.
    public static func during<T: Sendable>(
        _ work: [@Sendable () async throws -> Void], grace: Duration = .seconds(5), _ body: () async throws -> T
    ) async throws -> (result: T, stoppedInTime: Bool) {
        let tasks = work.map { job in Task { try await job() } }
        let outcome: Result<T, any Error>
        do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
        var stoppedInTime = true
        for task in tasks.reversed() {
            task.cancel()
            if await !stopped(task, within: grace) { stoppedInTime = false }
        }
        return (try outcome.get(), stoppedInTime)
    }

    /// Whether `task` finished within `grace`. Awaiting a task's result cannot be cancelled, so
    /// the two waits race through a stream rather than in a task group.
    private static func stopped(_ task: Task<Void, any Error>, within grace: Duration) async -> Bool {
        let (stream, continuation) = AsyncStream.makeStream(of: Bool.self)
        Task {
            _ = await task.result
            continuation.yield(true)
        }
        let timer = Task {
            try? await Task.sleep(for: grace)
            continuation.yield(false)
        }
        defer { timer.cancel() }
        for await finished in stream { return finished }
        return false
    }
}
