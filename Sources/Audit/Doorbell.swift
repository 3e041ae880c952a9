import Synchronization

/// Lets the audit writer sleep between flushes and be woken early: a request that waits for
/// its event to be stored (`before_response`) rings, so its batch goes out now, not at the
/// end of the flush interval. A ring while nobody waits is kept for the next wait.
final class Doorbell: Sendable {
    private let state = Mutex<(sleeper: CheckedContinuation<Void, Never>?, rung: Bool)>((nil, false))

    func ring() {
        let sleeper = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let sleeper = state.sleeper else {
                state.rung = true
                return nil
            }
            state.sleeper = nil
            return sleeper
        }
        sleeper?.resume()
    }

    /// Returns after `limit`, as soon as the bell rings (at once if it rang meanwhile), or when
    /// the calling task is cancelled.
    func wait(atMost limit: Duration) async {
        await withTaskCancellationHandler {
            await sleep(atMost: limit)
        } onCancel: {
            ring()
        }
    }

    private func sleep(atMost limit: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                if (try? await Task.sleep(for: limit)) != nil { ring() }
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let rung = state.withLock { state -> Bool in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    state.sleeper = continuation
                    return false
                }
                if rung { continuation.resume() }
            }
            group.cancelAll()
        }
    }
}
