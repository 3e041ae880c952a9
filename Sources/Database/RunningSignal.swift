import Synchronization

/// Raised once, awaited by any number: "the pool's `run()` has begun".
final class RunningSignal: Sendable {
    private let state = Mutex<(raised: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func raise() {
        let waiting = state.withLock { state in
            state.raised = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let raised = state.withLock { state in
                if !state.raised { state.waiting.append(continuation) }
                return state.raised
            }
            if raised { continuation.resume() }
        }
    }
}
