/// The gRPC method a request calls (`context.grpc` in policies): a request whose content type
/// is `application/grpc` or `application/grpc+<codec>`, sent with POST to `/<service>/<method>`
/// (the gRPC over HTTP/2 protocol: github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).
/// Read from the canonical path, so the method decided is the method the upstream is asked for.
public struct GRPCMethod: Sendable, Equatable {
    /// The fully qualified service, e.g. `logistics.fleet.v1.Positions`.
    public let service: String
    /// The method's name, e.g. `Watch`.
    public let method: String

    public init(service: String, method: String) {
        self.service = service
        self.method = method
    }

    /// The method named by a gRPC request's canonical `path`; nil when the request is not gRPC
    /// or its path is not exactly two non-empty segments.
    /// A gRPC-Web call (a browser's) calls its method as a gRPC call does: decided alike, whether
    /// the gateway translates it or its upstream serves gRPC-Web itself.
    public init?(method httpMethod: String, path: String, contentType: String?) {
        guard httpMethod == "POST", let contentType, Self.isGRPC(contentType: contentType) || Self.webForm(contentType: contentType) != nil
        else { return nil }
        self.init(path: path)
    }

    /// `/<service>/<method>`, both non-empty.
    public init?(path: String) {
        let segments = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard segments.count == 3, segments[0].isEmpty, !segments[1].isEmpty, !segments[2].isEmpty,
            let service = String(segments[1]), let method = String(segments[2])
        else { return nil }
        self.init(service: service, method: method)
    }

    /// The path that calls this method.
    public var path: String { "/\(service)/\(method)" }

    /// `application/grpc`, or `application/grpc+proto`, `application/grpc;…` (case-insensitive).
    public static func isGRPC(contentType: String) -> Bool {
        suffix(of: contentType, after: "application/grpc") != nil
    }

    /// A gRPC-Web content type (PROTOCOL-WEB.md): `application/grpc-web` or, base64 bodies,
    /// `application/grpc-web-text`, each optionally followed by `+codec` or `;parameters`, which
    /// `suffix` holds; nil for any other content type.
    public static func webForm(contentType: String) -> (text: Bool, suffix: Substring)? {
        if let suffix = suffix(of: contentType, after: "application/grpc-web-text") { return (true, suffix) }
        return suffix(of: contentType, after: "application/grpc-web").map { (false, $0) }
    }

    /// What follows `type` (lower case) in `contentType`, compared case-insensitively without
    /// allocating (every request with a body asks): nil unless it is empty, `+…` or `;…`.
    private static func suffix(of contentType: String, after type: String) -> Substring? {
        func lowered(_ byte: UInt8) -> UInt8 { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte }
        guard contentType.utf8.count >= type.utf8.count,
            contentType.utf8.prefix(type.utf8.count).lazy.map(lowered).elementsEqual(type.utf8)
        else { return nil }
        let rest = contentType.utf8.dropFirst(type.utf8.count)
        guard rest.first.map({ $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ";") }) ?? true else { return nil }
        return Substring(rest)
    }
}
