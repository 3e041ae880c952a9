/// What a response that keeps streaming is watched with (``StreamWatch``), gathered when the
/// request is forwarded; a value, so requests whose answer arrives whole cost nothing more.
struct StreamOrigin: Sendable {
    let recheck: AccessRecheck
    /// The record of the request that opened the stream.
    let opening: AccessRecord
    /// The route's `max_stream_lifetime`.
    let lifetime: Duration
    /// A gRPC call's `grpc-timeout`: the whole call, response included, must end within it.
    let callTimeout: Duration?
}
