import Hummingbird
import NIOCore
import Synchronization

/// A response body still arriving from the upstream when its head was returned. If the
/// server never relays it (or stops part-way), the upstream connection is closed, not reused.
final class StreamedResponse: Sendable {
    private let connection: UpstreamConnection
    private let upload: Task<Void, Never>?
    private let finished = Atomic<Bool>(false)

    init(connection: UpstreamConnection, upload: Task<Void, Never>?) {
        self.connection = connection
        self.upload = upload
    }

    /// Copies the rest of the body to the client at the pace the client takes it.
    func relay(to writer: inout any ResponseBodyWriter) async throws {
        do {
            while let part = try await connection.nextBodyPart() {
                try await writer.write(part)
            }
            finished.store(true, ordering: .relaxed)
        } catch {
            connection.abandon()
            await settleUpload()
            throw error
        }
        await settleUpload()
        try await writer.finish(nil)
    }

    /// The response is over: a request body still being sent is no longer wanted.
    private func settleUpload() async {
        upload?.cancel()
        await upload?.value
    }

    deinit {
        upload?.cancel()
        if !finished.load(ordering: .relaxed) { connection.abandon() }
    }
}
