/// Why an exchange failed, with what the retry rule needs to know.
enum ExchangeFailure: Error {
    /// The pooled connection had closed before anything was written: try another.
    case stale
    /// `beforeResponse`: not one byte of a response had arrived.
    case failed(UpstreamFailure, beforeResponse: Bool)
}
