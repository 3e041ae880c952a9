/// Background work (a connection pool, an audit writer) that a command needs only while it runs.
public enum BackgroundWork {
    /// Runs each of `work` while `body` runs; afterwards cancels them and waits at most `grace`
    /// for them to stop. A command has then done what it was asked: it must end even if a
    /// connection's shutdown stalls, as seen once in CI (a finished `policy history` never exited).
    /// Returns `body`'s result, and whether everything stopped within `grace`.
    public static func during<T: Sendable>(
        _ work: [@Sendable () async throws -> Void], grace: Duration = .seconds(5), _ body: () async throws -> T
    ) async throws -> (result: T, stoppedInTime: Bool) {
        let tasks = work.map { job in Task { try await job() } }
        let outcome: Result<T, any Error>
        do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
        for task in tasks { task.cancel() }
        let stoppedInTime = await allStopped(tasks, within: grace)
        return (try outcome.get(), stoppedInTime)
    }

    /// Whether every task finished within `grace`. Awaiting a task's result cannot be cancelled,
    /// so the two waits race through a stream rather than in a task group.
    private static func allStopped(_ tasks: [Task<Void, any Error>], within grace: Duration) async -> Bool {
        let (stream, continuation) = AsyncStream.makeStream(of: Bool.self)
        Task {
            for task in tasks { _ = await task.result }
            continuation.yield(true)
        }
        let timer = Task {
            try? await Task.sleep(for: grace)
            continuation.yield(false)
        }
        var stopped = false
        for await value in stream {
            stopped = value
            break
        }
        timer.cancel()
        return stopped
    }
}
