import Federation
import Foundation

extension PortcullisConfiguration {
    /// `federation.providers`: each provider's issuer, client, claims, linking rules and group
    /// mapping, checked at load with the location of whatever is wrong. The issuer is not
    /// contacted here: an unreachable provider at start is retried when someone signs in with it.
    /// Also `federation.local_sign_in_roles`: who may still sign in with a Portcullis password.
    static func federation(
        _ section: inout MappingReader
    ) throws(ConfigurationError) -> (providers: [ProviderSettings], localSignInRoles: Set<String>?) {
        var providers: [ProviderSettings] = []
        for var reader in try section.mappings("providers") ?? [] {
            providers.append(try provider(&reader))
        }
        let localRoles = try section.strings("local_sign_in_roles").map(Set.init)
        try section.finish()
        var seen = Set<String>()
        for provider in providers where !seen.insert(provider.id).inserted {
            throw .invalidValue(section.location(of: "providers"), path: "federation.providers", reason: "provider id '\(provider.id)' is used twice")
        }
        return (providers, localRoles)
    }

    private static func provider(_ reader: inout MappingReader) throws(ConfigurationError) -> ProviderSettings {
        guard let id = try reader.string("id") else { throw reader.missing("id", hint: "a short name: letters, digits and hyphens") }
        guard !id.isEmpty, id.count <= 32, id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
            throw .invalidValue(
                reader.location(of: "id"), path: reader.join("id"), reason: "'\(id)' must be 1-32 lower-case letters, digits or hyphens")
        }
        guard let issuerText = try reader.string("issuer") else { throw reader.missing("issuer", hint: "the provider's issuer URL") }
        guard let issuer = URL(string: issuerText), ProviderSettings.isAcceptableIssuer(issuer) else {
            throw .invalidValue(
                reader.location(of: "issuer"), path: reader.join("issuer"), reason: "'\(issuerText)' is not an https URL (http only on loopback)")
        }
        guard let clientID = try reader.string("client_id") else {
            throw reader.missing("client_id", hint: "the client id registered at the provider")
        }
        guard let secretFile = try reader.string("client_secret_file") else {
            throw reader.missing("client_secret_file", hint: "a file holding the client secret (never the secret itself)")
        }
        guard let secret = try? String(contentsOfFile: secretFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !secret.isEmpty
        else {
            throw .invalidValue(
                reader.location(of: "client_secret_file"), path: reader.join("client_secret_file"), reason: "cannot read a secret from \(secretFile)")
        }
        var settings = ProviderSettings(
            id: id, displayName: try reader.string("name") ?? id, issuer: issuer, clientID: clientID, clientSecret: secret)
        settings.scopes = try reader.strings("scopes") ?? settings.scopes
        if !settings.scopes.contains("openid") {
            throw .invalidValue(reader.location(of: "scopes"), path: reader.join("scopes"), reason: "the scopes must include openid")
        }
        if var claims = try reader.mapping("claims") {
            settings.loginClaim = try claims.string("login") ?? settings.loginClaim
            settings.emailClaim = try claims.string("email") ?? settings.emailClaim
            settings.groupsClaim = try claims.string("groups") ?? settings.groupsClaim
            try claims.finish()
        }
        if var parameters = try reader.mapping("authorization_parameters") {
            let values = try parameters.stringValues()
            if let reserved = values.keys.sorted().first(where: ProviderSettings.reservedParameters.contains) {
                throw .invalidValue(
                    reader.location(of: "authorization_parameters"), path: reader.join("authorization_parameters"),
                    reason: "'\(reserved)' is set by Portcullis and cannot be configured")
            }
            settings.authorizationParameters = values
        }
        settings.createUsers = try reader.boolean("create_users") ?? settings.createUsers
        settings.linkVerifiedEmailDomains = (try reader.strings("link_verified_email_domains") ?? []).map { $0.lowercased() }
        settings.mfaAMR = try reader.strings("mfa_amr") ?? []
        settings.mfaACR = try reader.strings("mfa_acr") ?? []
        if let every = try reader.duration("revalidate_every") {
            guard every >= .seconds(1), every <= .seconds(86_400) else {
                throw .invalidValue(reader.location(of: "revalidate_every"), path: reader.join("revalidate_every"), reason: "expected 1s to 24h")
            }
            settings.revalidateEvery = every.seconds
        }
        if let grace = try reader.duration("unreachable_grace") {
            guard grace <= .seconds(86_400) else {
                throw .invalidValue(reader.location(of: "unreachable_grace"), path: reader.join("unreachable_grace"), reason: "expected at most 24h")
            }
            settings.unreachableGrace = grace.seconds
        }
        if var groups = try reader.mapping("groups") { settings.groupMapping = try groupMapping(&groups) }
        try reader.finish()
        return settings
    }

    /// A `groups` mapping: provider group → a list of `role:<name>` and `group:<name>`.
    static func groupMapping(_ groups: inout MappingReader) throws(ConfigurationError) -> GroupMapping {
        var table: [String: GroupMapping.Grants] = [:]
        for (group, entry) in try groups.stringListValues() {
            var grants = GroupMapping.Grants()
            for target in entry.values {
                let parts = target.split(separator: ":", maxSplits: 1).map(String.init)
                switch (parts.first, parts.count) {
                case ("role", 2): grants.roles.insert(parts[1])
                case ("group", 2): grants.groups.insert(parts[1])
                default:
                    throw .invalidValue(entry.location, path: groups.join(group), reason: "'\(target)' must be role:<name> or group:<name>")
                }
            }
            table[group] = grants
        }
        return GroupMapping(table)
    }
}
