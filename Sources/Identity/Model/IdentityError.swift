/// One problem with one input field, as reported to API clients and the CLI.
public struct FieldError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// Why an identity operation did not happen. Each case maps to one HTTP status and one
/// stable `error` code; messages never contain secrets or say which half of a credential
/// was wrong.
public enum IdentityError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request is malformed or a field is invalid (400).
    case invalidInput([FieldError])
    /// The body could not be read or parsed (400).
    case malformedBody(String)
    /// The named object does not exist (404).
    case notFound(String)
    /// The change conflicts with existing state: duplicate name, role cycle (409).
    case conflict(String)
    /// Login, password, code or client secret wrong, unknown or not usable (401).
    case invalidCredentials
    /// Too many failed attempts for this login or address; retry after the given seconds (429).
    case throttled(retryAfterSeconds: Int)
    /// No valid bearer token on an endpoint that needs one (401).
    case unauthenticated(String)
    /// Authenticated, but policy does not allow it (403).
    case forbidden(String)
    /// Password hashing is saturated; shed load rather than queue without bound (503).
    case overloaded
    /// The database failed; details are logged, not returned (503).
    case unavailable(String)

    public static func invalid(_ field: String, _ message: String) -> IdentityError {
        .invalidInput([FieldError(field, message)])
    }

    public var description: String {
        switch self {
        case let .invalidInput(errors): "invalid input: " + errors.map(\.description).joined(separator: "; ")
        case let .malformedBody(reason): "malformed request body: \(reason)"
        case let .notFound(what): "\(what) not found"
        case let .conflict(reason): reason
        case .invalidCredentials: "invalid credentials"
        case let .throttled(seconds): "too many failed attempts; retry in \(seconds) s"
        case let .unauthenticated(reason): reason
        case let .forbidden(reason): reason
        case .overloaded: "the service is overloaded; retry shortly"
        case let .unavailable(reason): "the identity store is unavailable: \(reason)"
        }
    }
}
