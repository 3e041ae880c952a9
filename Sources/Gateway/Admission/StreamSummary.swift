/// What the audit record of a closed stream says about it: which request opened it, how long
/// it lasted, the bytes each way, and why it ended.
struct StreamSummary: Sendable {
    /// A WebSocket, or a response that kept streaming (a gRPC call among them).
    enum Kind: String, Sendable {
        case webSocket = "websocket"
        case stream

        /// How the audit record's reason names it.
        var name: String { self == .webSocket ? "WebSocket" : "stream" }
    }

    let kind: Kind
    /// The request id of the access record that opened it.
    let opened: String
    let duration: Duration
    /// Bytes from the client to the upstream, and back.
    let bytesUp: Int
    let bytesDown: Int
    let closure: StreamClosure

    /// `"stream":{…}` for the record's details.
    var json: String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return #""stream":{"kind":"\#(kind.rawValue)","opened_by":"\#(opened)","milliseconds":\#(milliseconds),"#
            + #""bytes_up":\#(bytesUp),"bytes_down":\#(bytesDown),"closed_by":"\#(closure.label)"}"#
    }
}
