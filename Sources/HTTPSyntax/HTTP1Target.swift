/// An HTTP/1.1 request-target that is not origin-form, carried whole past SwiftNIO's
/// conversion to HTTPTypes.
///
/// `HTTPRequest(HTTPRequestHead)` keeps only the path and query of an absolute-form target
/// (`GET https://billing.internal/x` with `Host: shipments.internal`) and takes the host from
/// `Host`, so ``RequestCanonicalizer`` would never learn that the two disagree. The HTTP/1.1
/// pipeline therefore rewrites every target that does not start with `/` into ``prefix``
/// followed by the target as it was on the wire. The prefix ends in a space, which cannot occur
/// in a request-target on the HTTP/1.1 wire (it ends the target), and which makes the
/// conversion's URL parser give up and pass the text through untouched.
///
/// An HTTP/2 client could send the prefix in `:path`; all it gets is what an HTTP/1.1 client gets
/// by sending the target itself, with the same checks.
public enum HTTP1Target {
    public static let prefix = "non-origin-form "

    /// The text to put in place of `target` before conversion: `target` itself when it is
    /// origin-form, else the prefixed target.
    public static func carried(_ target: String) -> String {
        target.utf8.first == ASCII.slash ? target : prefix + target
    }

    /// The target as it was on the wire, from what ``carried(_:)`` produced (or from a target
    /// that never needed carrying).
    public static func unwrapped(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        let prefix = Self.prefix.utf8
        guard bytes.first != ASCII.slash, bytes.count >= prefix.count, zip(bytes, prefix).allSatisfy({ $0 == $1 }) else { return bytes }
        return UnsafeBufferPointer(rebasing: bytes[prefix.count...])
    }
}
