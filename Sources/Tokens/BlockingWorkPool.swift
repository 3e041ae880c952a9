import Foundation

/// A fixed set of threads for CPU- and memory-heavy blocking work (Argon2id) that must never
/// run on an event loop or the cooperative pool. Concurrency is bounded by the thread count,
/// and the queue by `maxQueued`, so a login flood cannot exhaust memory.
public final class BlockingWorkPool: Sendable {
    /// The pool refused the job because its queue is full; callers should shed load (HTTP 503).
    public struct Overloaded: Error, Sendable, CustomStringConvertible {
        public var description: String { "blocking work pool queue is full" }
    }

    private final class State: @unchecked Sendable {
        // Guarded by `condition`.
        let condition = NSCondition()
        var jobs: [@Sendable () -> Void] = []
        var running = true
    }

    private let state = State()
    private let maxQueued: Int

    /// Starts `threads` worker threads.
    public init(threads: Int, maxQueued: Int = 1024) {
        self.maxQueued = maxQueued
        for index in 0..<max(1, threads) {
            let state = self.state
            let thread = Thread {
                while true {
                    state.condition.lock()
                    while state.jobs.isEmpty && state.running { state.condition.wait() }
                    if state.jobs.isEmpty {
                        state.condition.unlock()
                        return
                    }
                    let job = state.jobs.removeFirst()
                    state.condition.unlock()
                    job()
                }
            }
            thread.name = "portcullis-blocking-\(index)"
            thread.start()
        }
    }

    /// Runs `body` on a pool thread and resumes the caller with its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws(Overloaded) -> T {
        let result: T? = await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            state.condition.lock()
            guard state.running, state.jobs.count < maxQueued else {
                state.condition.unlock()
                continuation.resume(returning: nil)
                return
            }
            state.jobs.append { continuation.resume(returning: body()) }
            state.condition.signal()
            state.condition.unlock()
        }
        guard let result else { throw Overloaded() }
        return result
    }

    /// Lets queued jobs finish, then stops the threads.
    public func shutdown() {
        state.condition.lock()
        state.running = false
        state.condition.broadcast()
        state.condition.unlock()
    }

    deinit { shutdown() }
}
