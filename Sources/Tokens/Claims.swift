import Foundation

/// Whether the token's subject is a person or a workload.
public enum SubjectKind: String, Codable, Sendable {
    case user
    case service
}

/// The claims Portcullis puts in access tokens, session cookies and upstream identity assertions.
///
/// One typed struct for every format, so that validation lives in one place
/// (`ClaimsPolicy`). Times are whole seconds; PASETO encodes them as RFC 3339 strings and JWT
/// as NumericDate, selected by `ClaimsCodec.Format`.
public struct Claims: Sendable, Equatable {
    /// `iss`: who minted the token.
    public var issuer: String
    /// `sub`: the user or service id.
    public var subject: String
    /// `aud`: who the token is for; encoded as a string when there is exactly one.
    public var audience: [String]
    /// `iat`
    public var issuedAt: Date
    /// `nbf`
    public var notBefore: Date?
    /// `exp`: required on every Portcullis token.
    public var expiresAt: Date
    /// `jti`: unique token id, the handle for revocation.
    public var tokenID: String
    /// `kind`
    public var subjectKind: SubjectKind
    /// `roles`
    public var roles: [String]
    /// `groups`
    public var groups: [String]
    /// `sid`: the login session this token belongs to.
    public var sessionID: String?
    /// `amr` (RFC 8176 values such as `pwd`, `otp`, `mtls`).
    public var authMethods: [String]
    /// `mfa_time`: when the subject last completed a second factor.
    public var mfaTime: Date?
    /// `device_id`
    public var deviceID: String?
    /// `method` and `path`: the request an upstream identity assertion was minted for, so it
    /// cannot be replayed against another path of the same route.
    public var httpMethod: String?
    public var httpPath: String?
    /// `session_exp`: when the login session ends, carried in browser cookies so that sliding
    /// (idle) renewal never extends a session past its absolute lifetime.
    public var sessionExpiresAt: Date?
    /// `cnf` with `x5t#S256` (RFC 8705 §3.1): the base64url SHA-256 of the client certificate the
    /// token is bound to. Such a token is accepted only over a connection presenting that very
    /// certificate, so a stolen copy is useless elsewhere; in a gateway assertion it names the
    /// certificate the request came with.
    public var certificateThumbprint: String?

    public init(
        issuer: String, subject: String, audience: [String], issuedAt: Date, notBefore: Date? = nil,
        expiresAt: Date, tokenID: String, subjectKind: SubjectKind, roles: [String] = [],
        groups: [String] = [], sessionID: String? = nil, authMethods: [String] = [],
        mfaTime: Date? = nil, deviceID: String? = nil, httpMethod: String? = nil, httpPath: String? = nil,
        sessionExpiresAt: Date? = nil, certificateThumbprint: String? = nil
    ) {
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.issuedAt = issuedAt.wholeSeconds
        self.notBefore = notBefore?.wholeSeconds
        self.expiresAt = expiresAt.wholeSeconds
        self.tokenID = tokenID
        self.subjectKind = subjectKind
        self.roles = roles
        self.groups = groups
        self.sessionID = sessionID
        self.authMethods = authMethods
        self.mfaTime = mfaTime?.wholeSeconds
        self.deviceID = deviceID
        self.httpMethod = httpMethod
        self.httpPath = httpPath
        self.sessionExpiresAt = sessionExpiresAt?.wholeSeconds
        self.certificateThumbprint = certificateThumbprint
    }

    /// A random 128-bit token id (base64url) for `jti`.
    public static func newTokenID() -> String { Base64URL.encode(Sodium.randomBytes(16)) }
}

extension Date {
    var wholeSeconds: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}

/// JSON encoding of `Claims` for each token format.
public enum ClaimsCodec {
    /// How timestamps are written.
    public enum Format: Sendable {
        /// PASETO registered claims: RFC 3339 strings.
        case paseto
        /// JWT registered claims: NumericDate (seconds since the epoch).
        case jwt
    }

    /// Compact JSON with members in key order. Written by hand rather than with `JSONEncoder`:
    /// the gateway mints an assertion per request, and Foundation's encoder was a measurable
    /// part of that path (docs/performance.md).
    public static func encode(_ claims: Claims, as format: Format) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        var first = true
        func key(_ name: String) {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            appendString(name, to: &out)
            out.append(UInt8(ascii: ":"))
        }
        func string(_ name: String, _ value: String?) {
            guard let value else { return }
            key(name)
            appendString(value, to: &out)
        }
        func strings(_ name: String, _ values: [String]) {
            guard !values.isEmpty else { return }
            key(name)
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendString(value, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        func date(_ name: String, _ value: Date?) {
            guard let value else { return }
            switch format {
            case .jwt:
                key(name)
                out.append(contentsOf: String(Int64(value.timeIntervalSince1970)).utf8)
            case .paseto:
                string(name, RFC3339.format(value))
            }
        }
        strings("amr", claims.authMethods)
        if claims.audience.count == 1 { string("aud", claims.audience[0]) } else { strings("aud", claims.audience) }
        if let thumbprint = claims.certificateThumbprint {
            key("cnf")
            out.append(UInt8(ascii: "{"))
            appendString("x5t#S256", to: &out)
            out.append(UInt8(ascii: ":"))
            appendString(thumbprint, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        string("device_id", claims.deviceID)
        date("exp", claims.expiresAt)
        strings("groups", claims.groups)
        date("iat", claims.issuedAt)
        string("iss", claims.issuer)
        string("jti", claims.tokenID)
        string("kind", claims.subjectKind.rawValue)
        string("method", claims.httpMethod)
        date("mfa_time", claims.mfaTime)
        date("nbf", claims.notBefore)
        string("path", claims.httpPath)
        strings("roles", claims.roles)
        date("session_exp", claims.sessionExpiresAt)
        string("sid", claims.sessionID)
        string("sub", claims.subject)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A JSON string literal (RFC 8259 §7): quote, backslash and control characters escaped.
    static func appendString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                    hex[Int(byte >> 4)], hex[Int(byte & 0x0F)],
                ])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Decodes and type-checks claims from untrusted (but authenticated) JSON.
    public static func decode(_ json: [UInt8], as format: Format) throws(TokenError) -> Claims {
        guard let root = JSONValue.parse(json), case .object = root else {
            throw TokenError.invalidClaims("payload is not a JSON object")
        }
        let reader = ClaimReader(root: root, format: format)
        return Claims(
            issuer: try reader.string("iss"),
            subject: try reader.string("sub"),
            audience: try reader.audience(),
            issuedAt: try reader.requiredDate("iat"),
            notBefore: try reader.date("nbf"),
            expiresAt: try reader.requiredDate("exp"),
            tokenID: try reader.string("jti"),
            subjectKind: try reader.optionalString("kind").map { kind throws(TokenError) in
                guard let value = SubjectKind(rawValue: kind) else { throw TokenError.invalidClaims("claim 'kind' must be user or service") }
                return value
            } ?? .user,
            roles: try reader.strings("roles"),
            groups: try reader.strings("groups"),
            sessionID: try reader.optionalString("sid"),
            authMethods: try reader.strings("amr"),
            mfaTime: try reader.date("mfa_time"),
            deviceID: try reader.optionalString("device_id"),
            httpMethod: try reader.optionalString("method"),
            httpPath: try reader.optionalString("path"),
            sessionExpiresAt: try reader.date("session_exp"),
            certificateThumbprint: try reader.confirmation())
    }
}

/// Typed access to claim members with messages naming the claim.
private struct ClaimReader {
    let root: JSONValue
    let format: ClaimsCodec.Format

    func optionalString(_ key: String) throws(TokenError) -> String? {
        switch root[key] {
        case nil, .null?: return nil
        case let .string(value)?: return value
        default: throw TokenError.invalidClaims("claim '\(key)' must be a string")
        }
    }

    func string(_ key: String) throws(TokenError) -> String {
        guard let value = try optionalString(key) else { throw TokenError.invalidClaims("missing claim '\(key)'") }
        return value
    }

    func strings(_ key: String) throws(TokenError) -> [String] {
        switch root[key] {
        case nil, .null?: return []
        case let .array(items)?:
            var out = [String]()
            out.reserveCapacity(items.count)
            for item in items {
                guard case let .string(value) = item else { throw TokenError.invalidClaims("claim '\(key)' must be an array of strings") }
                out.append(value)
            }
            return out
        default: throw TokenError.invalidClaims("claim '\(key)' must be an array of strings")
        }
    }

    /// `aud` is a string or an array of strings (RFC 7519 §4.1.3); required.
    func audience() throws(TokenError) -> [String] {
        if case let .string(single)? = root["aud"] { return [single] }
        let list = try strings("aud")
        guard !list.isEmpty else { throw TokenError.invalidClaims("missing claim 'aud'") }
        return list
    }

    /// `cnf`: absent, or an object naming a certificate by `x5t#S256` and nothing else. A key
    /// binding this code does not understand (`jkt`, `jwk`) is refused rather than ignored: ignoring
    /// it would turn a bound token into a bearer token.
    func confirmation() throws(TokenError) -> String? {
        switch root["cnf"] {
        case nil, .null?: return nil
        case let .object(members)?:
            guard members.count == 1, members[0].key == "x5t#S256", case let .string(thumbprint) = members[0].value, !thumbprint.isEmpty else {
                throw TokenError.invalidClaims("claim 'cnf' must be {\"x5t#S256\": <certificate thumbprint>}, the only binding accepted")
            }
            return thumbprint
        default: throw TokenError.invalidClaims("claim 'cnf' must be an object")
        }
    }

    func date(_ key: String) throws(TokenError) -> Date? {
        switch (format, root[key]) {
        case (_, nil), (_, .null?): return nil
        case let (.jwt, .number(seconds)?): return Date(timeIntervalSince1970: seconds)
        case let (.paseto, .string(text)?):
            guard let date = RFC3339.parse(text) else { throw TokenError.invalidClaims("claim '\(key)' is not an RFC 3339 time") }
            return date
        case (.jwt, _): throw TokenError.invalidClaims("claim '\(key)' must be a NumericDate")
        case (.paseto, _): throw TokenError.invalidClaims("claim '\(key)' must be an RFC 3339 string")
        }
    }

    func requiredDate(_ key: String) throws(TokenError) -> Date {
        guard let value = try date(key) else { throw TokenError.invalidClaims("missing claim '\(key)'") }
        return value
    }
}

/// Claim checks shared by every verifier: one place decides what "valid now" means.
public struct ClaimsPolicy: Sendable {
    /// Accepted `iss` values (exact match).
    public var issuers: [String]
    /// Accepted audiences; the token's `aud` list must contain one of them exactly.
    public var audiences: [String]
    /// Tolerance for clocks that disagree, applied to `exp`, `nbf` and `iat`.
    public var clockSkew: TimeInterval
    /// Longest accepted `exp - iat`, so a leaked signing key cannot mint near-eternal tokens
    /// that outlive rotation.
    public var maxLifetime: TimeInterval

    public init(issuers: [String], audiences: [String], clockSkew: TimeInterval = 30, maxLifetime: TimeInterval = 3600) {
        self.issuers = issuers
        self.audiences = audiences
        self.clockSkew = clockSkew
        self.maxLifetime = maxLifetime
    }

    /// Throws the first failed check.
    public func validate(_ claims: Claims, now: Date) throws(TokenError) {
        guard claims.expiresAt.timeIntervalSince(now) > -clockSkew else { throw TokenError.expired }
        if let notBefore = claims.notBefore, notBefore.timeIntervalSince(now) > clockSkew { throw TokenError.notYetValid }
        guard claims.issuedAt.timeIntervalSince(now) <= clockSkew else { throw TokenError.issuedInFuture }
        let lifetime = claims.expiresAt.timeIntervalSince(claims.issuedAt)
        guard lifetime <= maxLifetime else {
            throw TokenError.lifetimeTooLong(seconds: Int(lifetime), limit: Int(maxLifetime))
        }
        guard issuers.contains(claims.issuer) else { throw TokenError.issuerNotAccepted(claims.issuer) }
        guard claims.audience.contains(where: audiences.contains) else { throw TokenError.audienceNotAccepted }
    }
}
