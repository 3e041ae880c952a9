import Foundation
import NIOCore
import NIOSSL
import PKI
import Synchronization
import X509

/// Why TLS material could not be loaded; the material in use stays in force.
public enum TLSMaterialError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case mismatch(String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "\(path): \(reason)"
        case let .mismatch(reason): reason
        }
    }
}

/// The gateway's server certificate and key, read from files and swapped on reload. Each TLS
/// handshake asks for the current pair (NIOSSL's context callback), so a renewed certificate is
/// served from the next connection on without dropping any.
public final class ServerCredentials: Sendable {
    private struct Pair: Sendable {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
    }

    private let pair: Mutex<Pair>
    let certificateFile: String
    let keyFile: String

    public init(certificateFile: String, keyFile: String) throws(TLSMaterialError) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        pair = Mutex(try Self.load(certificateFile: certificateFile, keyFile: keyFile))
    }

    /// Re-reads both files; on any problem the current pair stays and the error says why.
    public func reload() throws(TLSMaterialError) {
        let fresh = try Self.load(certificateFile: certificateFile, keyFile: keyFile)
        pair.withLock { $0 = fresh }
    }

    var current: (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) {
        pair.withLock { ($0.chain, $0.key) }
    }

    private static func load(certificateFile: String, keyFile: String) throws(TLSMaterialError) -> Pair {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
            guard !chain.isEmpty else { throw TLSMaterialError.unreadable(path: certificateFile, reason: "no certificate in the file") }
            let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
            // The leaf must belong to the key, or every handshake would fail after a half-finished renewal.
            let leaf = try Certificate(derEncoded: chain[0].toDERBytes())
            let parsedKey = try Certificate.PrivateKey(pemEncoded: String(contentsOfFile: keyFile, encoding: .utf8))
            guard leaf.publicKey == parsedKey.publicKey else {
                throw TLSMaterialError.mismatch("\(certificateFile) does not belong to the key in \(keyFile)")
            }
            return Pair(chain: chain, key: key)
        } catch let error as TLSMaterialError {
            throw error
        } catch {
            throw .unreadable(path: certificateFile, reason: "\(error)")
        }
    }
}

/// Which client certificates the gateway accepts: chains to the internal CA bundle, inside the
/// trust domain, not revoked. Reloadable like the server credentials.
public final class ClientTrust: Sendable {
    /// Serials refused at the handshake, shared with the verifier it builds.
    private final class RevokedSerials: Sendable {
        let serials = Mutex<Set<String>>([])
    }

    private let verifier: Mutex<ClientChainVerifier>
    private let revoked = RevokedSerials()
    let bundleFile: String
    let trustDomain: String
    /// The CA certificates, for the CertificateRequest's list of acceptable issuers.
    let authorities: Mutex<[NIOSSLCertificate]>

    public init(bundleFile: String, trustDomain: String) throws(TLSMaterialError) {
        self.bundleFile = bundleFile
        self.trustDomain = trustDomain
        let (verifier, authorities) = try Self.load(bundleFile, trustDomain: trustDomain, revoked: revoked)
        self.verifier = Mutex(verifier)
        self.authorities = Mutex(authorities)
    }

    public func reload() throws(TLSMaterialError) {
        let (fresh, authorities) = try Self.load(bundleFile, trustDomain: trustDomain, revoked: revoked)
        verifier.withLock { $0 = fresh }
        self.authorities.withLock { $0 = authorities }
    }

    /// Replaces the set of revoked serials (`Certificate.SerialNumber.hex`); the next handshake sees it.
    public func setRevokedSerials(_ serials: Set<String>) { revoked.serials.withLock { $0 = serials } }

    func verify(_ chain: [NIOSSLCertificate]) async -> NIOSSLVerificationResult {
        guard let certificates = try? chain.map({ try Certificate(derEncoded: $0.toDERBytes()) }) else { return .failed }
        let verifier = self.verifier.withLock { $0 }
        if case .trusted = await verifier.verify(chain: certificates) { return .certificateVerified }
        return .failed
    }

    private static func load(
        _ file: String, trustDomain: String, revoked: RevokedSerials
    ) throws(TLSMaterialError)
        -> (ClientChainVerifier, [NIOSSLCertificate])
    {
        do {
            let authorities = try NIOSSLCertificate.fromPEMFile(file)
            let certificates = try authorities.map { try Certificate(derEncoded: $0.toDERBytes()) }
            guard !certificates.isEmpty else { throw TLSMaterialError.unreadable(path: file, reason: "no certificate in the bundle") }
            let roots = certificates.filter { $0.subject == $0.issuer }
            let intermediates = certificates.filter { $0.subject != $0.issuer }
            let verifier = ClientChainVerifier(trustRoots: roots, intermediates: intermediates, trustDomain: trustDomain) { serial in
                revoked.serials.withLock { $0.contains(serial) }
            }
            return (verifier, authorities)
        } catch let error as TLSMaterialError {
            throw error
        } catch {
            throw .unreadable(path: file, reason: "\(error)")
        }
    }
}
