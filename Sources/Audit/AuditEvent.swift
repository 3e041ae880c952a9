import Foundation

/// One fact for the audit trail: an access decision, an administrative change or an
/// authentication event. Fields that do not apply to a kind are nil.
///
/// Time is kept in whole microseconds since the Unix epoch, PostgreSQL's `timestamptz`
/// precision, so the hash computed when writing is the hash recomputed when verifying.
public struct AuditEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case access, admin, authentication
        /// A writer's own start and clean stop, first and last in its chain: a chain without
        /// its stop record ended abruptly (or is still being written).
        case writer
    }

    public var id: UUID
    public var timeMicros: Int64
    public var kind: Kind
    public var requestID: String?
    /// The Cedar principal, e.g. `User::"alice"`, or the acting admin for admin events.
    public var principal: String?
    /// `mtls`, `token`, `session`, `password`, `none`.
    public var authMethod: String?
    /// HTTP method for access events; `user.disable`, `policy.push`, `login`… otherwise.
    public var action: String
    public var route: String?
    /// Canonical path for access events; the changed object for admin events.
    public var target: String?
    public var clientAddress: String?
    /// `allow`, `deny`, `error` for access; `success`, `failure` for authentication; `applied` for admin.
    public var outcome: String
    /// Determining policy ids.
    public var policies: [String]
    /// Hash of the policy set that decided (or of the version an admin change produced).
    public var policyVersion: String?
    public var upstreamStatus: Int?
    public var durationMicros: Int64?
    /// Free-form JSON text, e.g. an admin change's before/after summary. Never secrets.
    public var details: String?

    public init(
        id: UUID = .random(), time: Date = Date(), kind: Kind, requestID: String? = nil, principal: String? = nil,
        authMethod: String? = nil, action: String, route: String? = nil, target: String? = nil,
        clientAddress: String? = nil, outcome: String, policies: [String] = [], policyVersion: String? = nil,
        upstreamStatus: Int? = nil, durationMicros: Int64? = nil, details: String? = nil
    ) {
        self.id = id
        self.timeMicros = CivilTime.micros(time)
        self.kind = kind
        self.requestID = requestID
        self.principal = principal
        self.authMethod = authMethod
        self.action = action
        self.route = route
        self.target = target
        self.clientAddress = clientAddress
        self.outcome = outcome
        self.policies = policies
        self.policyVersion = policyVersion
        self.upstreamStatus = upstreamStatus
        self.durationMicros = durationMicros
        self.details = details
    }

    public var time: Date { Date(timeIntervalSince1970: Double(timeMicros) / 1_000_000) }
}

/// An event with its place in its writer's hash chain.
///
/// `hash = BLAKE2b-256(previousHash ‖ canonical(event, writer, sequence))`, so changing,
/// removing, inserting or reordering any record breaks every later link.
public struct ChainedEvent: Sendable, Equatable, Codable {
    public var event: AuditEvent
    public var writerID: UUID
    public var sequence: Int64
    public var previousHash: [UInt8]
    public var hash: [UInt8]
}

extension UUID {
    /// A version 4 UUID from the system's CSPRNG (`getrandom`). Foundation's `UUID()` opens
    /// `/dev/urandom` on every call on Linux, a measurable cost at one audit event per request.
    @usableFromInline static func random() -> UUID {
        var generator = SystemRandomNumberGenerator()
        var bytes = unsafeBitCast((generator.next() as UInt64, generator.next() as UInt64), to: uuid_t.self)
        bytes.6 = (bytes.6 & 0x0f) | 0x40  // version 4
        bytes.8 = (bytes.8 & 0x3f) | 0x80  // RFC 9562 variant
        return UUID(uuid: bytes)
    }
}
