import Foundation

/// The stable export schema for central log systems (Elasticsearch, ClickHouse, Loki).
///
/// Version 1 fields, always present (null when not applicable): `v`, `id`, `time` (RFC 3339,
/// UTC, microseconds), `kind`, `request_id`, `principal`, `auth_method`, `action`, `route`,
/// `target`, `client_address`, `outcome`, `policies` (array), `policy_version`,
/// `upstream_status`, `duration_us`, `details` (JSON text), `writer_id`, `seq`, `hash` (hex).
/// Search results (`audit search`, the admin API) add `chain`: how the record's chain stood at
/// the last verification (`verified`, `unverified`, `broken`; ``ChainStatus``).
/// New fields may be added within a version; renaming or removing one bumps `v`.
public enum AuditExportFormat: String, Sendable, CaseIterable {
    case jsonl, csv

    public static let schemaVersion = 1

    static let columns = [
        "v", "id", "time", "kind", "request_id", "principal", "auth_method", "action", "route", "target",
        "client_address", "outcome", "policies", "policy_version", "upstream_status", "duration_us", "details",
        "writer_id", "seq", "hash",
    ]

    /// The header line, if the format has one.
    public var header: String? {
        switch self {
        case .jsonl: nil
        case .csv: Self.columns.joined(separator: ",")
        }
    }

    /// One record as one line (without the newline); with `chain`, a search result (JSON lines).
    public func line(_ record: ChainedEvent, chain: ChainStatus? = nil) -> String {
        let event = record.event
        let values: [Any] = [
            Self.schemaVersion, event.id.uuidString.lowercased(), Self.timestamp(event.timeMicros), event.kind.rawValue,
            event.requestID ?? NSNull(), event.principal ?? NSNull(), event.authMethod ?? NSNull(), event.action,
            event.route ?? NSNull(), event.target ?? NSNull(), event.clientAddress ?? NSNull(), event.outcome,
            event.policies, event.policyVersion ?? NSNull(), event.upstreamStatus ?? NSNull(),
            event.durationMicros ?? NSNull(), event.details ?? NSNull(), record.writerID.uuidString.lowercased(),
            record.sequence, Hex.text(record.hash),
        ]
        switch self {
        case .jsonl:
            var object = Dictionary(uniqueKeysWithValues: zip(Self.columns, values))
            if let chain { object["chain"] = chain.rawValue }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        case .csv:
            return values.map(Self.csvField).joined(separator: ",")
        }
    }

    /// RFC 3339 with microseconds, always UTC.
    public static func timestamp(_ micros: Int64) -> String {
        let (seconds, fraction) = micros.quotientAndRemainder(dividingBy: 1_000_000)
        let wholeSeconds = fraction < 0 ? seconds - 1 : seconds
        let positiveFraction = fraction < 0 ? fraction + 1_000_000 : fraction
        let date = Date(timeIntervalSince1970: TimeInterval(wholeSeconds))
        let base = date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day().time(includingFractionalSeconds: false))
        return base.replacingOccurrences(of: "Z", with: "") + "." + String(positiveFraction).leftPadded(to: 6) + "Z"
    }

    /// RFC 4180: quote a field when it holds a comma, quote, or line break; double inner quotes.
    private static func csvField(_ value: Any) -> String {
        let text: String
        switch value {
        case is NSNull: return ""
        case let list as [String]: text = list.joined(separator: ";")
        default: text = "\(value)"
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
