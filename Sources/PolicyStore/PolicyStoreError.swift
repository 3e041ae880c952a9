/// Why a policy store operation did nothing.
public enum PolicyStoreError: Error, Sendable, CustomStringConvertible {
    /// A file of the bundle could not be read (path and reason).
    case unreadable(String)
    /// The bundle itself is malformed: a bad file name, a file given twice, two schemas.
    case invalidBundle(String)
    /// The set failed validation or its tests; the report says where.
    case refused(PolicyCheckReport)
    /// A required field (author, message) is empty or too long.
    case invalidField(String, String)
    /// No version with this number.
    case notFound(Int64)
    /// The version asked for is the one already enforced.
    case alreadyActive(Int64)
    /// PostgreSQL refused or could not be reached.
    case unavailable(String)

    public var description: String {
        switch self {
        case let .unreadable(reason), let .invalidBundle(reason): reason
        case let .refused(report): "refused; nothing was changed:\n" + report.description
        case let .invalidField(field, reason): "\(field): \(reason)"
        case let .notFound(version): "no policy version \(version)"
        case let .alreadyActive(version): "version \(version) is already the one in force"
        case let .unavailable(reason): "the policy store is unavailable: \(reason)"
        }
    }
}
