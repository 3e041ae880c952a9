import AccessModel
import Gateway
import Identity
import Tokens

/// The gateway's credential directory is the identity service's revocation feed.
extension RevocationFeed: CredentialDirectory {
    public var current: any CredentialSnapshot { snapshot }
}

extension RevocationFeed.Snapshot: CredentialSnapshot {
    public var isSynchronized: Bool { synchronized }

    public func workload(boundTo spiffeID: String) -> Workload? {
        services[spiffeID].map { Workload(name: $0.name, roles: $0.roles) }
    }

    public func account(_ login: String) -> AccountState? { accounts[login] }

    public func service(_ name: String) -> AccountState? { serviceAccounts[name] }
}
