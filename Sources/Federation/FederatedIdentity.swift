import Foundation

/// A person as a provider vouched for them in a verified id_token.
public struct FederatedIdentity: Sendable, Equatable {
    public let providerID: String
    public let issuer: String
    /// Stable at its issuer: (issuer, subject) is what links to a Portcullis user.
    public let subject: String
    public let login: String?
    public let email: String?
    public let emailVerified: Bool
    public let groups: [String]
    /// The provider said the person used a second factor (its `amr` or `acr`, as configured).
    public let multiFactor: Bool
    public let authenticatedAt: Date
}
