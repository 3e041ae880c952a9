/// The request header in which the gateway hands its signed identity assertion (an EdDSA JWT
/// minted for one request) to an upstream. One name for every reader: the gateway that sets
/// it, the identity service behind the gateway, and the demo upstreams that verify it.
public enum AssertionHeader {
    public static let name = "X-Portcullis-Assertion"
}
