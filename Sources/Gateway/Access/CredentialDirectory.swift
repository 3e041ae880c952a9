import AccessModel
import Tokens

/// Where the gateway learns what a signature cannot tell: which credentials were revoked, which
/// service account a SPIFFE ID belongs to, and the role hierarchy. `portcullis serve` wires the
/// identity service's revocation feed here; the gateway never reaches the identity store itself.
public protocol CredentialDirectory: Sendable {
    /// One consistent view, read once per request; it must be quick and never touch a database.
    var current: any CredentialSnapshot { get }
}

/// The directory's state at one instant.
public protocol CredentialSnapshot: Sendable {
    /// False while the source is not proven current: revocations may then be missing, so no
    /// credential is accepted (fail closed).
    var isSynchronized: Bool { get }
    var hierarchy: RoleHierarchy { get }
    /// Whether a token or session with these claims was revoked (itself, its session or its subject).
    func isRevoked(_ claims: Claims) -> Bool
    func isSessionRevoked(_ sessionID: String) -> Bool
    /// By serial number, hex.
    func isCertificateRevoked(serial: String) -> Bool
    /// The active service account bound to a SPIFFE ID.
    func workload(boundTo spiffeID: String) -> Workload?
    /// A user's current status, roles and groups; nil for a login the directory has not seen
    /// yet (created since its last load), whose credential then stands on what it was issued with.
    func account(_ login: String) -> AccountState?
    /// A service account's current status and roles, by name; nil when not seen yet.
    func service(_ name: String) -> AccountState?
}

/// A service account as the gateway admits it by its client certificate.
public struct Workload: Sendable, Equatable {
    public let name: String
    public let roles: [String]

    public init(name: String, roles: [String]) {
        self.name = name
        self.roles = roles
    }
}
