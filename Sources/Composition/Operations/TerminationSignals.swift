import Foundation

/// Lets SIGINT, SIGTERM and SIGHUP reach this process. A process started from a thread that
/// blocks them inherits that mask: Foundation's `Process` passes the spawning thread's mask on,
/// and the threads of Swift's concurrency pool block signals. Such a `portcullis up` ignored
/// Ctrl-C until its gateway's threads started (seen in the full test suite, where the test
/// runner spawns it); `serve` would likewise ignore its supervisor's stop while starting.
enum TerminationSignals {
    /// Unblocks them in the calling thread; a process-directed signal goes to any thread that
    /// does not block it, so one such thread is enough.
    static func unblock() {
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }
}
