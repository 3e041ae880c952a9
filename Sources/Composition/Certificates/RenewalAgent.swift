import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOSSL
import PKI
import SwiftASN1
import X509

/// Why `portcullis cert renew` could not renew.
public enum RenewalError: Error, Sendable, CustomStringConvertible {
    /// There are no credential files yet and no join token to obtain the first certificate.
    case noCredentials(prefix: String)
    /// The current certificate expired: mTLS renewal is impossible, a new join token is needed.
    case expired(prefix: String, notAfter: Date)
    /// The identity service answered with an error.
    case refused(status: Int, message: String)
    /// The identity service could not be reached, or the TLS handshake failed.
    case transport(String)
    /// The answer is not a chain for the key that was sent.
    case invalidResponse(String)
    /// The credential files could not be read or written.
    case files(PKIError)

    public var description: String {
        switch self {
        case let .noCredentials(prefix):
            "\(prefix).crt and \(prefix).key do not exist; obtain the first certificate with --join-token (portcullis service join-token)"
        case let .expired(prefix, notAfter):
            "\(prefix).crt expired at \(notAfter.formatted(.iso8601)); it can no longer renew itself: use a new --join-token"
        case let .refused(status, message): "the identity service refused (\(status)): \(message)"
        case let .transport(reason): "cannot reach the identity service: \(reason)"
        case let .invalidResponse(reason): "unusable answer from the identity service: \(reason)"
        case let .files(error): error.description
        }
    }
}

/// The renewal agent of `portcullis cert renew`: keeps `<prefix>.crt`/`<prefix>.key` current by
/// asking the Workload API for a new certificate (with a new key) at two thirds of each
/// certificate's lifetime, and replaces the files atomically (`CredentialFiles`), so a service
/// that re-reads them, or the gateway's upstream client certificate, rotates without a restart.
///
/// Renewal authenticates with the current certificate over mTLS, through the gateway; the very
/// first certificate is obtained with a one-time join token instead.
public struct RenewalAgent: Sendable {
    public let prefix: String
    /// The identity API's base URL as the service reaches it (normally the gateway's).
    public let baseURL: String
    /// PEM bundle of CAs to trust for the server's certificate; nil for the system store.
    public let trustRoots: String?
    let logger: Logger

    public init(prefix: String, baseURL: String, trustRoots: String?, logger: Logger) {
        self.prefix = prefix
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.trustRoots = trustRoots
        self.logger = logger
    }

    /// What one renewal produced.
    public struct Renewed: Sendable {
        public let chain: [Certificate]
        public let obtainedAt: Date
        public var leaf: Certificate { chain[0] }
    }

    /// Renews once: with the join token when given, otherwise with the current credentials.
    public func renew(joinToken: String? = nil, now: Date = Date()) async throws(RenewalError) -> Renewed {
        let current: (chain: [Certificate], key: Certificate.PrivateKey)?
        if joinToken == nil {
            guard FileManager.default.fileExists(atPath: prefix + ".crt") else { throw .noCredentials(prefix: prefix) }
            do { current = try CredentialFiles.read(prefix: prefix) } catch { throw .files(error) }
            if let leaf = current?.chain.first, leaf.notValidAfter <= now { throw .expired(prefix: prefix, notAfter: leaf.notValidAfter) }
        } else {
            current = nil
        }
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let csrPEM: String
        do {
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName("portcullis cert renew") }, privateKey: key,
                attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
            csrPEM = try csr.serializeAsPEM().pemString
        } catch {
            throw .invalidResponse("cannot build the certificate signing request: \(error)")
        }
        let body: ByteBuffer
        let contentType: String
        if let joinToken {
            let object = ["csr": csrPEM, "join_token": joinToken]
            body = ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: object)) ?? Data())
            contentType = "application/json"
        } else {
            body = ByteBuffer(string: csrPEM)
            contentType = "application/pkcs10"
        }
        let (status, text) = try await post(body, contentType: contentType, presenting: current)
        guard status == 200 else {
            let message = ((try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any])?["message"] as? String
            throw .refused(status: status, message: message ?? String(text.prefix(200)))
        }
        let chain: [Certificate]
        do {
            chain = try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
        } catch {
            throw .invalidResponse("not a PEM certificate chain: \(error)")
        }
        guard let leaf = chain.first, leaf.publicKey == key.publicKey else {
            throw .invalidResponse("the certificate returned is not for the key that was sent")
        }
        do { try CredentialFiles.write(prefix: prefix, chain: chain, key: key) } catch { throw .files(error) }
        return Renewed(chain: chain, obtainedAt: Date())
    }

    /// Renews for ever: at two thirds of each certificate's lifetime, retrying failures with a
    /// growing delay (at most 30 s, never past expiry). Throws when the certificate expired
    /// without a successful renewal (only a join token helps then). `onRenewal` sees every new
    /// certificate and when the next renewal is due.
    public func watch(joinToken: String?, onRenewal: @escaping @Sendable (Certificate, Date) -> Void) async throws {
        var renewed = try await initial(joinToken: joinToken)
        while !Task.isCancelled {
            let due = RenewalSchedule.nextRenewal(
                obtainedAt: renewed.obtainedAt, notBefore: renewed.leaf.notValidBefore,
                notAfter: renewed.leaf.notValidAfter)
            onRenewal(renewed.leaf, due)
            try await Self.sleep(until: due)
            renewed = try await renewRetrying(until: renewed.leaf.notValidAfter)
        }
    }

    /// The certificate to start from: a new one for a join token, else the files as they are.
    private func initial(joinToken: String?) async throws -> Renewed {
        if let joinToken { return try await renew(joinToken: joinToken) }
        guard FileManager.default.fileExists(atPath: prefix + ".crt") else { throw RenewalError.noCredentials(prefix: prefix) }
        let chain: [Certificate]
        do { chain = try CredentialFiles.read(prefix: prefix).chain } catch { throw RenewalError.files(error) }
        let attributes = try? FileManager.default.attributesOfItem(atPath: prefix + ".crt")
        return Renewed(chain: chain, obtainedAt: attributes?[.modificationDate] as? Date ?? .distantPast)
    }

    /// Renews, retrying with a growing delay (at most 30 s, a quarter of the time left) until
    /// `notAfter`; after it only a join token helps.
    private func renewRetrying(until notAfter: Date) async throws -> Renewed {
        var delay: TimeInterval = 1
        while true {
            let outcome: Result<Renewed, RenewalError>
            do { outcome = .success(try await renew()) } catch { outcome = .failure(error) }
            switch outcome {
            case let .success(renewed):
                return renewed
            case let .failure(error):
                if case .expired = error { throw error }
                let remaining = notAfter.timeIntervalSinceNow
                guard remaining > 0 else { throw RenewalError.expired(prefix: prefix, notAfter: notAfter) }
                let wait = min(delay, max(0.2, remaining / 4))
                logger.warning("certificate renewal failed; retrying", metadata: ["error": "\(error)", "retry_in_seconds": "\(wait)"])
                try await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
                delay = min(delay * 2, 30)
            }
        }
    }

    private static func sleep(until date: Date) async throws {
        let interval = date.timeIntervalSinceNow
        if interval > 0 { try await Task.sleep(for: .milliseconds(Int64(interval * 1000))) }
    }

    /// POSTs to `/v1/certs/sign`, presenting `current` as the client certificate when given.
    private func post(
        _ body: ByteBuffer, contentType: String, presenting current: (chain: [Certificate], key: Certificate.PrivateKey)?
    )
        async throws(RenewalError) -> (Int, String)
    {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        do {
            if let trustRoots { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(trustRoots)) }
            if let current {
                tls.certificateChain = try current.chain.map { certificate in
                    var coder = DER.Serializer()
                    try coder.serialize(certificate)
                    return .certificate(try NIOSSLCertificate(bytes: coder.serializedBytes, format: .der))
                }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(try current.key.serializeAsPEM().pemString.utf8), format: .pem))
            }
        } catch {
            throw .transport("cannot prepare TLS: \(error)")
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(30)))
        configuration.httpVersion = .http1Only
        // A client of its own per renewal: the next renewal must present the new certificate,
        // never a pooled connection authenticated with the old one.
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        var request = HTTPClientRequest(url: baseURL + "/v1/certs/sign")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "Accept", value: "application/pem-certificate-chain")
        request.body = .bytes(body)
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            try await client.shutdown()
            return (Int(response.status.code), text)
        } catch {
            try? await client.shutdown()
            throw .transport("\(error)")
        }
    }
}
