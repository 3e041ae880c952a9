import Synchronization

/// When the feed last proved it is live, shared by the probe, the notification loop and the watchdog.
final class FeedPulse: Sendable {
    private struct Marks {
        /// When the latest answered probe was sent.
        var answered = ContinuousClock.now
        /// When the notification being applied arrived; nil between notifications.
        var applyingSince: ContinuousClock.Instant?
    }

    private let marks = Mutex(Marks())

    func answered(sentAt sent: ContinuousClock.Instant) { marks.withLock { $0.answered = max($0.answered, sent) } }

    func applying(_ busy: Bool) { marks.withLock { $0.applyingSince = busy ? .now : nil } }

    /// The failure due now, or nil and the instant to check again.
    func check(timeout: Duration, channel: String) -> (failure: FeedLivenessFailure?, next: ContinuousClock.Instant) {
        let marks = marks.withLock { $0 }
        let now = ContinuousClock.now
        if marks.answered + timeout <= now { return (.unanswered(channel: channel, timeout: timeout), now) }
        if let since = marks.applyingSince, since + timeout <= now { return (.stuck(channel: channel, timeout: timeout), now) }
        return (nil, min(marks.answered, marks.applyingSince ?? marks.answered) + timeout)
    }
}
