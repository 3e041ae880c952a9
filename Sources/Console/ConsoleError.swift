import HTTPTypes
import Identity
import PolicyStore

/// Why a console page could not do what was asked; shown to the administrator as a page.
public enum ConsoleError: Error, Sendable, CustomStringConvertible {
    /// A form field or parameter is wrong (400).
    case invalid(String)
    /// The object named in the address does not exist (404).
    case notFound(String)
    /// The change conflicts with existing state (409).
    case conflict(String)
    /// A store or the policy workbench cannot answer right now (503).
    case unavailable(String)
    /// The templates or assets are not where the build put them (the console cannot start).
    case resourcesMissing(String)

    public var description: String {
        switch self {
        case let .invalid(reason), let .notFound(reason), let .conflict(reason), let .unavailable(reason), let .resourcesMissing(reason): reason
        }
    }

    var status: HTTPResponse.Status {
        switch self {
        case .invalid: .badRequest
        case .notFound: .notFound
        case .conflict: .conflict
        case .unavailable, .resourcesMissing: .serviceUnavailable
        }
    }

    var title: String {
        switch self {
        case .invalid: "That did not work"
        case .notFound: "Not found"
        case .conflict: "Not changed"
        case .unavailable, .resourcesMissing: "Unavailable"
        }
    }

    /// The console's view of the domain modules' errors; internals of unexpected ones are not shown.
    static func from(_ error: any Error) -> ConsoleError {
        switch error {
        case let error as ConsoleError:
            return error
        case let error as IdentityError:
            switch error {
            case .invalidInput, .malformedBody: return .invalid(error.description)
            case .notFound: return .notFound(error.description)
            case .conflict: return .conflict(error.description)
            default: return .unavailable(error.description)
            }
        case let error as WorkloadError:
            switch error {
            case .unknownSerial, .unknownService: return .notFound(error.description)
            case .invalidInput, .serviceNotEligible: return .invalid(error.description)
            default: return .unavailable(error.description)
            }
        case let error as PolicyStoreError:
            switch error {
            case .notFound: return .notFound(error.description)
            case .alreadyActive, .refused: return .conflict(error.description)
            case .invalidBundle, .invalidField, .unreadable: return .invalid(error.description)
            case .unavailable: return .unavailable(error.description)
            }
        case let error as PolicyWorkbenchError:
            switch error {
            case .invalidInput, .invalidPolicies: return .invalid(error.description)
            case .notFound: return .notFound(error.description)
            case .unavailable: return .unavailable(error.description)
            }
        default:
            return .unavailable("the request could not be completed")
        }
    }
}
