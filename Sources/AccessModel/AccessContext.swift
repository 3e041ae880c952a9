import Cedar
import Foundation

/// The context record (`http`, `client`, `cert`, `auth`, `time`, `device`, `grpc`) that every decision
/// sees, as `policies/schema.cedarschema` declares it. A new context attribute is added here and
/// in the schema, and nowhere else.
extension AccessRequest {
    public var context: [CedarString: Value] {
        let seconds = Int64(now.timeIntervalSince1970.rounded(.down))
        // 1970-01-01 was a Thursday; weekday counts Monday = 1 … Sunday = 7 (ISO 8601), in UTC.
        let weekday = ((seconds / 86_400) + 3) % 7 + 1
        var client: [CedarString: Value] = ["tls_version": Self.string(tlsVersion)]
        if case let .success(address) = IPAddress.parse(clientAddress) { client["ip"] = .ipaddr(address) }
        var cert: [CedarString: Value] = ["present": .bool(certificate != nil)]
        if let certificate {
            cert["serial"] = Self.string(certificate.serial)
            cert["sha256"] = Self.string(certificate.sha256)
            if let spiffeID = certificate.spiffeID { cert["spiffe_id"] = Self.string(spiffeID) }
        }
        var auth: [CedarString: Value] = ["method": Self.string(authMethod?.rawValue ?? AuthMethod.noneLabel), "mfa": .bool(mfa)]
        if let authenticatedAt { auth["authenticated_at"] = Self.datetime(authenticatedAt) }
        if let identityProvider { auth["provider"] = Self.string(identityProvider) }
        var context: [CedarString: Value] = [
            "http": .record([
                "method": Self.string(method), "host": Self.string(host), "path": Self.string(path),
                "lowercased_path": Self.string(Self.asciiLowercased(path)), "query": Self.string(query),
            ]),
            "client": .record(client),
            "cert": .record(cert),
            "auth": .record(auth),
            "time": .record(["now": Self.datetime(now), "hour": .long((seconds % 86_400) / 3600), "weekday": .long(weekday)]),
        ]
        if let device { context["device"] = .record(["managed": .bool(device.managed), "id": Self.string(device.id)]) }
        if let grpc { context["grpc"] = .record(["service": Self.string(grpc.service), "method": Self.string(grpc.method)]) }
        return context
    }

    private static func string(_ text: String) -> Value { .string(CedarString(text)) }

    private static func datetime(_ date: Date) -> Value {
        .datetime(CedarDatetime(epochMilliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down))))
    }

    /// `context.http.lowercased_path`: the path with `A`–`Z` lowered, for rules that must also
    /// hold against upstreams that ignore case (`/v1/ADMIN`). Only ASCII, so the result is
    /// exact and the same everywhere; a path without capitals is returned as it is, without
    /// a copy.
    static func asciiLowercased(_ path: String) -> String {
        func isCapital(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }
        guard path.utf8.contains(where: isCapital) else { return path }
        return String(decoding: path.utf8.map { isCapital($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
