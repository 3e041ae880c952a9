/// Why the audit pipeline could not do what was asked.
public enum AuditError: Error, Equatable, CustomStringConvertible {
    case corruptRow(String)
    case spool(String)
    case export(String)
    case anchor(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .corruptRow(let reason): "audit row cannot be read: \(reason)"
        case .spool(let reason): "audit spool: \(reason)"
        case .export(let reason): "audit export: \(reason)"
        case .anchor(let reason): "audit anchor file: \(reason)"
        case .invalidArgument(let reason): reason
        }
    }
}
