import Foundation
import HTTPTypes
import Identity
import Logging
import PKI
import PostgresNIO
import SwiftASN1
import Synchronization
import TestSupport
import Testing
import Tokens
import X509

/// `POST /v1/certs/sign` and `GET /v1/certs/crl` on a real identity service and PostgreSQL, with
/// CSRs made by OpenSSL and certificates and CRLs checked by OpenSSL.
@Suite(.serialized) struct WorkloadAPITests {
    static let billing = "spiffe://logistics.internal/billing"

    /// A CA on disk, as `portcullis ca init` leaves it, and a scratch directory for OpenSSL files.
    struct Scratch {
        let directory: URL
        let authority: CertificateAuthority

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("workload-\(UUID().uuidString)")
            let (authority, rootKey) = try CertificateAuthority.create(trustDomain: "logistics.internal")
            try CAFiles(directory: directory.appendingPathComponent("ca")).save(authority, rootKey: rootKey, force: false)
            self.authority = authority
        }

        var caDirectory: String { directory.appendingPathComponent("ca").path }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        /// A new P-256 key and a PEM CSR for it made by `openssl req`, optionally asking for SANs.
        func csr(_ name: String, subjectAltName: String? = nil) throws -> (pem: String, keyPath: String) {
            let key = path("\(name).key")
            let csr = path("\(name).csr")
            try openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key])
            try openssl(
                ["req", "-new", "-key", key, "-subj", "/CN=\(name)", "-out", csr]
                    + (subjectAltName.map { ["-addext", "subjectAltName=\($0)"] } ?? []))
            return (try String(contentsOfFile: csr, encoding: .utf8), key)
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    static func withService(
        configure: @escaping (inout IdentitySettings) -> Void = { _ in },
        _ body: @Sendable (IdentityHarness, Scratch) async throws -> Void
    ) async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try await IdentityHarness.run(configure: configure, caDirectory: scratch.caDirectory) { harness in
            _ = try await harness.store.createService(name: "billing", owner: "finance", spiffeID: billing, roles: [])
            try await body(harness, scratch)
        }
    }

    static func sign(
        _ harness: IdentityHarness, csr: String, joinToken: String? = nil,
        assertion: String? = nil
    ) async throws -> IdentityHarness.Reply {
        var headers: HTTPFields = [:]
        if let assertion { headers[HTTPField.Name("X-Portcullis-Assertion")!] = assertion }
        if let joinToken {
            return try await harness.send(.post, "/v1/certs/sign", body: harness.json(["csr": csr, "join_token": joinToken]), headers: headers)
        }
        return try await harness.send(.post, "/v1/certs/sign", body: csr, contentType: "application/pkcs10", headers: headers)
    }

    static func chain(_ reply: IdentityHarness.Reply) throws -> [Certificate] {
        try PEMDocument.parseMultiple(pemString: reply.text).map { try Certificate(pemDocument: $0) }
    }

    // MARK: Join tokens

    @Test func aJoinTokenIssuesOneCertificateForTheBoundIDThatOpenSSLVerifies() async throws {
        try await Self.withService(configure: { $0.workload.certificateLifetime = 120 }) { harness, scratch in
            let (token, _, _) = try await harness.service.newJoinToken(service: "billing", lifetime: 600, createdBy: "test")
            let (csr, keyPath) = try scratch.csr("billing")
            let reply = try await Self.sign(harness, csr: csr, joinToken: token)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.headers[.contentType] == "application/pem-certificate-chain")
            let chain = try Self.chain(reply)
            #expect(chain.count == 2)
            #expect(try SPIFFEID(certificate: chain[0]).description == Self.billing)
            #expect(chain[1] == scratch.authority.intermediate)
            #expect(chain[0].notValidAfter.timeIntervalSince(Date()) <= 121 && chain[0].notValidAfter.timeIntervalSince(Date()) > 100)
            #expect(chain[0].publicKey == (try CertificateSigningRequest(pemEncoded: csr)).publicKey)

            // OpenSSL: the leaf chains to the root through the intermediate, for client authentication,
            // and belongs to the key OpenSSL generated.
            try writePEM([chain[0]], to: scratch.path("leaf.pem"))
            try writePEM([chain[1]], to: scratch.path("intermediate.pem"))
            try writePEM([scratch.authority.root], to: scratch.path("root.pem"))
            let verified = try openssl([
                "verify", "-purpose", "sslclient", "-CAfile", scratch.path("root.pem"),
                "-untrusted", scratch.path("intermediate.pem"), scratch.path("leaf.pem"),
            ])
            #expect(verified.contains("OK"))
            let certificateKey = try openssl(["x509", "-in", scratch.path("leaf.pem"), "-noout", "-pubkey"])
            let privateKeyPublic = try openssl(["pkey", "-in", keyPath, "-pubout"])
            #expect(certificateKey == privateKeyPublic)

            let record = try #require(try await harness.store.issuedCertificate(serial: chain[0].serialNumber.hex))
            #expect(record.method == "join_token" && record.service == "billing" && record.spiffeID == Self.billing)

            // Single use.
            let (again, _) = try scratch.csr("again")
            let reused = try await Self.sign(harness, csr: again, joinToken: token)
            #expect(reused.status == 401)
            #expect(reused.string("error") == "invalid_join_token")

            let events = try await harness.auditEvents(action: "certificate.issue")
            #expect(events.contains { $0.outcome == "success" && $0.principal == #"Service::"billing""# && $0.target == Self.billing })
            #expect(events.contains { $0.outcome == "failure" })
            #expect(!events.contains { ($0.details ?? "").contains(token) }, "the join token must never reach the audit trail")
        }
    }

    @Test func anExpiredOrUnknownJoinTokenIsRefused() async throws {
        try await Self.withService { harness, scratch in
            let (token, _, _) = try await harness.service.newJoinToken(service: "billing", lifetime: 1, createdBy: "test")
            try await Task.sleep(for: .milliseconds(1500))
            let (csr, _) = try scratch.csr("late")
            #expect(try await Self.sign(harness, csr: csr, joinToken: token).status == 401)
            #expect(try await Self.sign(harness, csr: csr, joinToken: "pcj_" + String(repeating: "A", count: 43)).status == 401)
            let anonymous = try await Self.sign(harness, csr: csr)
            #expect(anonymous.status == 401)
            #expect(anonymous.string("error") == "unauthenticated")
            // A service without a SPIFFE binding cannot be given a join token at all.
            _ = try await harness.store.createService(name: "reports", owner: "", spiffeID: nil, roles: [])
            await #expect(throws: WorkloadError.self) {
                _ = try await harness.service.newJoinToken(service: "reports", lifetime: 60, createdBy: "test")
            }
        }
    }

    @Test func aCSRWithABadSignatureIsRefusedWithoutSpendingTheToken() async throws {
        try await Self.withService { harness, scratch in
            let (token, _, _) = try await harness.service.newJoinToken(service: "billing", lifetime: 600, createdBy: "test")
            let (csr, _) = try scratch.csr("x")
            // Change the subject's CN "x" to "y" after signing.
            var der = try CertificateSigningRequest(pemEncoded: csr).derBytes()
            let at = try #require(der.indices.dropLast(2).first { (der[$0] == 0x0c || der[$0] == 0x13) && der[$0 + 1] == 1 && der[$0 + 2] == 0x78 })
            der[at + 2] = 0x79
            let tampered = PEMDocument(type: "CERTIFICATE REQUEST", derBytes: der).pemString
            let refused = try await Self.sign(harness, csr: tampered, joinToken: token)
            #expect(refused.status == 400)
            #expect(refused.string("error") == "invalid_csr_signature")
            #expect(try await Self.sign(harness, csr: "not a csr", joinToken: token).status == 400)
            #expect(try await Self.sign(harness, csr: csr, joinToken: token).status == 200, "a refused request must not spend the token")
        }
    }

    /// The issued ID comes from the binding; a CSR asking for any other name is refused (and one
    /// asking for exactly the bound ID is fine).
    @Test func aCSRAskingForAnotherIdentityIsRefused() async throws {
        try await Self.withService { harness, scratch in
            let (token, _, _) = try await harness.service.newJoinToken(service: "billing", lifetime: 600, createdBy: "test")
            let (forged, _) = try scratch.csr("forged", subjectAltName: "URI:spiffe://logistics.internal/payroll")
            let refused = try await Self.sign(harness, csr: forged, joinToken: token)
            #expect(refused.status == 403)
            #expect(refused.string("error") == "names_not_bound")
            let (withDNS, _) = try scratch.csr("dns", subjectAltName: "URI:\(Self.billing),DNS:billing.internal")
            #expect(try await Self.sign(harness, csr: withDNS, joinToken: token).status == 403)
            let (exact, _) = try scratch.csr("exact", subjectAltName: "URI:\(Self.billing)")
            let accepted = try await Self.sign(harness, csr: exact, joinToken: token)
            #expect(accepted.status == 200, "\(accepted.text)")
            #expect(try SPIFFEID(certificate: try Self.chain(accepted)[0]).description == Self.billing)
        }
    }

    // MARK: Renewal through the gateway's assertion

    /// The assertion the gateway adds for a request it authenticated with a client certificate
    /// (`GatewayResponder.upstreamHeaders`), signed with the identity service's key ring.
    /// `presented`: the client certificate the request came with, named by `cnf.x5t#S256`.
    static func assertion(
        _ harness: IdentityHarness, presented: Certificate?, subject: String = "billing", kind: SubjectKind = .service,
        methods: [String] = ["mtls"], audience: String = "identity", path: String = "/v1/certs/sign",
        id: String = UUID().uuidString
    ) throws -> String {
        let now = Date()
        let claims = Claims(
            issuer: "portcullis-gateway", subject: subject, audience: [audience], issuedAt: now, expiresAt: now + 60,
            tokenID: id, subjectKind: kind, authMethods: methods, httpMethod: "POST", httpPath: path,
            certificateThumbprint: try presented.map { Base64URL.encode(CertificateDigest(der: try $0.derBytes()).bytes) })
        return try harness.parts.keys.signer().jwt(claims)
    }

    /// A first certificate for billing, from a join token.
    static func joined(_ harness: IdentityHarness, _ scratch: Scratch) async throws -> Certificate {
        let (token, _, _) = try await harness.service.newJoinToken(service: "billing", lifetime: 600, createdBy: "test")
        let reply = try await Self.sign(harness, csr: try scratch.csr("joined-\(UUID().uuidString)").pem, joinToken: token)
        return try #require(try Self.chain(reply).first, "\(reply.status) \(reply.text)")
    }

    /// Renews with an assertion naming `presented`; the new leaf, or nil when refused.
    static func renewed(
        _ harness: IdentityHarness, _ scratch: Scratch, from presented: Certificate
    ) async throws -> (IdentityHarness.Reply, Certificate?) {
        let reply = try await Self.sign(
            harness, csr: try scratch.csr("renewed-\(UUID().uuidString)").pem,
            assertion: try Self.assertion(harness, presented: presented))
        return (reply, reply.status == 200 ? try Self.chain(reply).first : nil)
    }

    @Test func aServiceAuthenticatedByTheGatewayRenewsOncePerAssertion() async throws {
        try await Self.withService { harness, scratch in
            let (csr, _) = try scratch.csr("renew")
            let current = try await Self.joined(harness, scratch)
            let assertion = try Self.assertion(harness, presented: current)
            let renewed = try await Self.sign(harness, csr: csr, assertion: assertion)
            #expect(renewed.status == 200, "\(renewed.text)")
            let leaf = try Self.chain(renewed)[0]
            #expect(try SPIFFEID(certificate: leaf).description == Self.billing)
            #expect(try await harness.store.issuedCertificate(serial: leaf.serialNumber.hex)?.method == "renewal")

            // Replayed, or minted for anything but an mTLS service calling this endpoint on the identity route: refused.
            for bad in [
                assertion, try Self.assertion(harness, presented: current, methods: ["token"]),
                try Self.assertion(harness, presented: current, methods: ["mtls", "token"]),
                try Self.assertion(harness, presented: current, audience: "billing"),
                try Self.assertion(harness, presented: current, kind: .user),
                try Self.assertion(harness, presented: current, path: "/v1/certs/crl"), "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
            ] {
                let reply = try await Self.sign(harness, csr: csr, assertion: bad)
                #expect(reply.status == 401, "\(reply.text)")
                #expect(reply.string("error") == "invalid_assertion")
            }
            // A disabled service renews nothing.
            _ = try await harness.store.setServiceStatus(name: "billing", .disabled, revocationLifetime: 60)
            #expect(try await Self.sign(harness, csr: csr, assertion: try Self.assertion(harness, presented: leaf)).status == 403)
        }
    }

    /// The identity service checks the certificate a renewal was presented with on its own: one
    /// it has no record of (no `cnf`, issued offline, another service's), or one outside its
    /// validity period, renews nothing, whatever the gateway's assertion says.
    @Test func aRenewalIsRefusedForACertificateThatIsExpiredUnknownOrAnotherServices() async throws {
        try await Self.withService(configure: { $0.workload.certificateLifetime = 2 }) { harness, scratch in
            let (csr, _) = try scratch.csr("renew")
            let current = try await Self.joined(harness, scratch)
            let offline = try scratch.authority.issue(spiffeID: try SPIFFEID(Self.billing), publicKey: current.publicKey, lifetime: 600)
            _ = try await harness.store.createService(name: "fleet", owner: "ops", spiffeID: "spiffe://logistics.internal/fleet", roles: [])
            for (assertion, refusal) in [
                (try Self.assertion(harness, presented: nil), "renewal_refused"),
                (try Self.assertion(harness, presented: offline), "renewal_refused"),
                (try Self.assertion(harness, presented: current, subject: "fleet"), "renewal_refused"),
            ] {
                let reply = try await Self.sign(harness, csr: csr, assertion: assertion)
                #expect(reply.status == 401, "\(reply.text)")
                #expect(reply.string("error") == refusal)
            }
            try await Task.sleep(until: .now + .seconds(Int(current.notValidAfter.timeIntervalSinceNow.rounded(.up)) + 1))
            let (expired, leaf) = try await Self.renewed(harness, scratch, from: current)
            #expect(leaf == nil && expired.status == 401, "an expired certificate renewed itself: \(expired.text)")
            #expect(expired.string("error") == "renewal_refused")
            #expect(expired.string("message")?.contains("not now") == true, "\(expired.text)")
        }
    }

    /// Revoking a certificate revokes everything renewed from it, down the lineage, and a
    /// certificate in a revoked lineage renews nothing.
    @Test func revokingACertificateRevokesWhatWasRenewedFromIt() async throws {
        try await Self.withService { harness, scratch in
            let first = try await Self.joined(harness, scratch)
            let second = try #require(try await Self.renewed(harness, scratch, from: first).1)
            let third = try #require(try await Self.renewed(harness, scratch, from: second).1)
            let sibling = try await Self.joined(harness, scratch)

            let outcome = try await harness.service.revokeCertificate(
                serial: second.serialNumber.hex, reason: .keyCompromise, revokedBy: "test",
                expiresAt: nil)
            #expect(outcome.revoked && outcome.renewals == [third.serialNumber.hex])
            try await IdentityHarness.waitUntil("the feed to learn both serials") {
                harness.parts.feed.snapshot.revokedSerials.isSuperset(of: [second.serialNumber.hex, third.serialNumber.hex])
            }
            #expect(!harness.parts.feed.snapshot.revokedSerials.contains(first.serialNumber.hex))
            for revoked in [second, third] {
                let (reply, leaf) = try await Self.renewed(harness, scratch, from: revoked)
                #expect(leaf == nil && reply.string("error") == "renewal_refused", "\(reply.text)")
            }
            // The parent and an unrelated lineage renew as before.
            #expect(try await Self.renewed(harness, scratch, from: first).1 != nil)
            #expect(try await Self.renewed(harness, scratch, from: sibling).1 != nil)

            // Revoking the first certificate takes the rest of its lineage, including what it renewed since.
            let fourth = try #require(try await Self.renewed(harness, scratch, from: first).1)
            let again = try await harness.service.revokeCertificate(
                serial: first.serialNumber.hex, reason: .superseded, revokedBy: "test",
                expiresAt: nil)
            #expect(again.revoked)
            #expect(Set(again.renewals).contains(fourth.serialNumber.hex))
            #expect(!Set(again.renewals).contains(third.serialNumber.hex), "already revoked: not revoked twice")
        }
    }

    /// A renewal racing a revocation of its lineage cannot slip between the revocation's check for
    /// renewals and its commit: while a revocation holds the lineage lock (here a second session,
    /// paused inside its transaction), a renewal waits, then finds the revocation and is refused.
    @Test func aRenewalWaitsForARevocationInProgressAndIsRefused() async throws {
        try await Self.withService { harness, scratch in
            let first = try await Self.joined(harness, scratch)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let revoker = try await harness.database.openDedicatedConnection(logger: logger)
            try await revoker.query("BEGIN", logger: logger)
            try await revoker.query("SELECT pg_advisory_xact_lock(hashtext('identity_certificate_lineage'))", logger: logger)
            try await revoker.query(
                """
                INSERT INTO identity_revoked_certificates (serial, reason, revoked_by, expires_at)
                VALUES (\(first.serialNumber.hex), 'keyCompromise', 'test', \(first.notValidAfter))
                """, logger: logger)
            let renewal = Task { try await Self.renewed(harness, scratch, from: first) }
            try await Task.sleep(for: .seconds(1))
            try await revoker.query("COMMIT", logger: logger)
            try await revoker.close()
            let (reply, leaf) = try await renewal.value
            #expect(leaf == nil, "a certificate was renewed from one revoked while the renewal ran")
            #expect(reply.string("error") == "renewal_refused", "\(reply.text)")
        }
    }

    // MARK: Revocation and the CRL

    @Test func revokedSerialsReachTheFeedAndTheCRLThatOpenSSLParses() async throws {
        try await Self.withService { harness, scratch in
            let (csr, _) = try scratch.csr("victim")
            let leaf = try Self.chain(
                try await Self.sign(
                    harness, csr: csr,
                    assertion: try Self.assertion(
                        harness,
                        presented: try await Self.joined(harness, scratch))))[0]
            let serial = leaf.serialNumber.hex

            let empty = try await harness.send(.get, "/v1/certs/crl")
            #expect(empty.status == 200)
            #expect(empty.headers[.contentType] == "application/pkix-crl")

            #expect(
                try await harness.service.revokeCertificate(
                    serial: serial.uppercased(), reason: .keyCompromise, revokedBy: "test",
                    expiresAt: nil
                ).revoked)
            #expect(try await !harness.service.revokeCertificate(serial: serial, reason: .keyCompromise, revokedBy: "test", expiresAt: nil).revoked)
            await #expect(throws: WorkloadError.unknownSerial("0badc0de")) {
                _ = try await harness.service.revokeCertificate(serial: "0BADC0DE", reason: .superseded, revokedBy: "test", expiresAt: nil)
            }
            try await IdentityHarness.waitUntil("the feed to learn the revoked serial") {
                harness.parts.feed.snapshot.revokedSerials.contains(serial)
            }

            // DER, parsed and verified by OpenSSL against the CA bundle; the serial is listed with its reason.
            let der = try await harness.send(.get, "/v1/certs/crl")
            #expect(der.status == 200)
            let derBytes = try await Self.rawBody("/v1/certs/crl", port: harness.port)
            try Data(derBytes).write(to: URL(fileURLWithPath: scratch.path("crl.der")))
            let text = try openssl([
                "crl", "-inform", "DER", "-in", scratch.path("crl.der"), "-noout", "-text",
                "-CAfile", scratch.caDirectory + "/ca-bundle.crt",
            ])
            #expect(text.contains(serial.uppercased()))
            #expect(text.contains("Key Compromise"))
            #expect(text.contains("verify OK"))

            let pem = try await harness.send(.get, "/v1/certs/crl?format=pem")
            #expect(pem.text.hasPrefix("-----BEGIN X509 CRL-----"))
            let accepted = try await harness.send(.get, "/v1/certs/crl", headers: [.accept: "application/x-pem-file"])
            #expect(accepted.text.hasPrefix("-----BEGIN X509 CRL-----"))
        }
    }

    /// The CRL's bytes exactly (the harness client decodes bodies as text), fetched by curl.
    static func rawBody(_ path: String, port: Int) async throws -> [UInt8] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("crl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sSf", "-o", file.path, "http://127.0.0.1:\(port)\(path)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Not a blocking wait: curl is asking the identity service running in this process.
        _ = try await ChildExit.wait(process)
        return [UInt8](try Data(contentsOf: file))
    }

    /// A feed that connects late loads every revoked serial still in force (and none that
    /// expired), and its observers (the gateway's TLS verifier) see every later revocation.
    @Test func aLateFeedResyncsRevokedSerialsAndObserversFollowNotifications() async throws {
        try await IdentityHarness.run { harness in
            #expect(
                try await harness.store.revokeCertificate(serial: "0a0b", reason: .superseded, revokedBy: "test", expiresAt: Date() + 600).revoked)
            #expect(try await harness.store.revokeCertificate(serial: "0c0d", reason: .superseded, revokedBy: "test", expiresAt: Date() - 1).revoked)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let quiet = logger
            let late = RevocationFeed(
                store: harness.store, openConnection: { try await harness.database.openDedicatedConnection(logger: quiet) },
                logger: quiet)
            let seen = Mutex<[Set<String>]>([])
            late.observe { snapshot in seen.withLock { $0.append(snapshot.revokedSerials) } }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await late.run() }
                try await IdentityHarness.waitUntil("the late feed to synchronise") { late.snapshot.synchronized }
                #expect(late.snapshot.revokedSerials == ["0a0b"])
                #expect(seen.withLock { $0.last } == ["0a0b"])
                #expect(
                    try await harness.store.revokeCertificate(serial: "0e0f", reason: .keyCompromise, revokedBy: "test", expiresAt: Date() + 600)
                        .revoked)
                try await IdentityHarness.waitUntil("the observer to see the new serial") { seen.withLock { $0.last } == ["0a0b", "0e0f"] }
                group.cancelAll()
            }
        }
    }

    @Test func withoutACATheWorkloadAPIIsUnavailable() async throws {
        try await IdentityHarness.run { harness in
            let reply = try await harness.send(.post, "/v1/certs/sign", body: "x", contentType: "application/pkcs10")
            #expect(reply.status == 503)
            #expect(reply.string("error") == "not_configured")
        }
    }
}

@discardableResult
func openssl(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let output = String(decoding: pipe.readToEndAndClose(), as: UTF8.self)
    let processStatus = ChildExit.waitBlocking(process)
    guard processStatus == 0 else {
        throw WorkloadTestFailure(description: "openssl \(arguments.joined(separator: " ")) exited \(processStatus): \(output)")
    }
    return output
}

struct WorkloadTestFailure: Error, CustomStringConvertible {
    let description: String
}

func writePEM(_ certificates: [Certificate], to url: String) throws {
    try certificates.map { try $0.serializeAsPEM().pemString + "\n" }.joined().write(toFile: url, atomically: true, encoding: .utf8)
}

extension DERSerializable {
    func derBytes() throws -> [UInt8] {
        var coder = DER.Serializer()
        try coder.serialize(self)
        return coder.serializedBytes
    }
}
