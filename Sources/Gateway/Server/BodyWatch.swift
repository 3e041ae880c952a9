import Hummingbird
import NIOCore
import Synchronization

/// Holds one request body to its route's ``BodyPace`` while the gateway reads it. Reading
/// starts a check once a second on the connection's event loop; a body past its deadline or
/// below its minimum rate has its channel closed (the HTTP/1.1 connection, or the HTTP/2
/// stream), which also ends a read that is waiting for bytes that never come. The check stops
/// when the body ends, its reader goes away, or the channel closes, so nothing runs for
/// requests whose body nobody reads (those are closed after their answer: ``UnreadBodyCloser``).
final class BodyWatch: Sendable {
    private struct State {
        var received = 0
        var check: RepeatedTask?
        var stopped = false
        var violation: BodyPaceViolation?
    }

    private let pace: BodyPace
    private let channel: any Channel
    private let started = ContinuousClock.now
    private let state = Mutex(State())

    init(pace: BodyPace, channel: any Channel) {
        self.pace = pace
        self.channel = channel
    }

    /// Why the body was cut off, if it was.
    var violation: BodyPaceViolation? { state.withLock { $0.violation } }

    /// `body`, read under this watch.
    func paced(_ body: RequestBody) -> RequestBody {
        RequestBody(asyncSequence: PacedBody(base: body, watch: self))
    }

    fileprivate func startReading() {
        let check = channel.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] task in
            guard let self else { return task.cancel() }
            self.check()
        }
        let cancelNow = state.withLock { state in
            guard !state.stopped else { return true }
            state.check = check
            return false
        }
        if cancelNow { check.cancel() }
        channel.closeFuture.whenComplete { [weak self] _ in self?.stop() }
    }

    fileprivate func received(_ bytes: Int) throws(BodyPaceViolation) {
        let violation = state.withLock { state in
            state.received += bytes
            return state.violation
        }
        if let violation { throw violation }
    }

    /// The body ended: a violation found meanwhile still fails it, so a body cut off by closing
    /// the channel (which reads as an end) is never passed on as complete.
    fileprivate func ended() throws(BodyPaceViolation) {
        stop()
        if let violation { throw violation }
    }

    fileprivate func stop() {
        let check = state.withLock { state in
            state.stopped = true
            defer { state.check = nil }
            return state.check
        }
        check?.cancel()
    }

    private func check() {
        let violation: BodyPaceViolation? = state.withLock { state in
            guard !state.stopped, state.violation == nil,
                let violation = pace.violation(received: state.received, elapsed: ContinuousClock.now - started)
            else { return nil }
            state.violation = violation
            return violation
        }
        guard violation != nil else { return }
        stop()
        channel.close(promise: nil)
    }
}

/// A request body counted by a ``BodyWatch``; its iterator's lifetime is the reading.
private struct PacedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    let base: RequestBody
    let watch: BodyWatch

    /// Stops the watch when the reader drops the body unfinished (an upstream that answered
    /// before reading it all).
    final class Reader {
        let watch: BodyWatch
        init(_ watch: BodyWatch) {
            self.watch = watch
            watch.startReading()
        }
        deinit { watch.stop() }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let reader: Reader

        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else {
                try reader.watch.ended()
                return nil
            }
            try reader.watch.received(chunk.readableBytes)
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), reader: Reader(watch)) }
}
