import Benchmark
import CSodium
import Foundation
import Tokens

// Verification throughput of PASETO v4.public and EdDSA JWT next to raw
// `crypto_sign_verify_detached` over the very same signed bytes, so the figures show what
// parsing, base64 and JSON cost on top of the signature check; plus the verified-token cache
// hit and Argon2id at the default (INTERACTIVE) cost.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(3), maxIterations: 1_000_000)

    let fixture = try! VerificationFixture()

    Benchmark("raw crypto_sign_verify_detached (PASETO PAE message)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(fixture.rawVerify(fixture.pasetoSigned)) }
    }
    Benchmark("PASETO v4.public verify (signature, kid lookup, no claims)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try! fixture.paseto.verifySignature(fixture.pasetoToken)) }
    }
    Benchmark("PASETO v4.public verify + claims decode + policy") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try! fixture.paseto.verify(fixture.pasetoToken, now: fixture.now)) }
    }
    Benchmark("raw crypto_sign_verify_detached (JWT signing input)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(fixture.rawVerify(fixture.jwtSigned)) }
    }
    Benchmark("JWT EdDSA verify (header, signature, kid lookup, no claims)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try! fixture.jwt.verifySignature(fixture.jwtToken)) }
    }
    Benchmark("JWT EdDSA verify + claims decode + policy") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try! fixture.jwt.verify(fixture.jwtToken, now: fixture.now)) }
    }
    Benchmark("claims decode only (PASETO JSON, RFC 3339 times)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try! ClaimsCodec.decode(fixture.pasetoClaimsJSON, as: .paseto)) }
    }
    Benchmark("claims decode only (JWT JSON, NumericDate)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try! ClaimsCodec.decode(fixture.jwtClaimsJSON, as: .jwt)) }
    }
    Benchmark("verified-token cache hit (PASETO)") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(fixture.cache.lookup(fixture.pasetoToken, now: fixture.now)) }
    }

    let hasher = PasswordHasher(policy: .interactive, pool: BlockingWorkPool(threads: 1))
    Benchmark(
        "Argon2id hash (INTERACTIVE: t=2, m=64 MiB)",
        configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(5), maxIterations: 20)
    ) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try! await hasher.hash("correct horse battery staple")) }
    }
}

/// Tokens and verifiers built once; the raw cases verify the exact bytes the token signs.
struct VerificationFixture: Sendable {
    let now = Date()
    let publicKey: [UInt8]
    let pasetoToken: String
    let jwtToken: String
    let pasetoSigned: (message: [UInt8], signature: [UInt8])
    let jwtSigned: (message: [UInt8], signature: [UInt8])
    let pasetoClaimsJSON: [UInt8]
    let jwtClaimsJSON: [UInt8]
    let paseto: PasetoPublicVerifier
    let jwt: JWTVerifier
    let cache = VerifiedTokenCache()

    init() throws {
        let key = try Ed25519SecretKey.generate()
        publicKey = key.publicKey.bytes
        let claims = Claims(
            issuer: "https://id.portcullis.test", subject: "alice", audience: ["portcullis-gateway"],
            issuedAt: now, expiresAt: now.addingTimeInterval(3000), tokenID: Claims.newTokenID(),
            subjectKind: .user, roles: ["admin"], groups: ["eng", "ops"], sessionID: "session-1",
            authMethods: ["pwd", "otp"], mfaTime: now, deviceID: "device-42")
        let signer = TokenSigner(key: key)
        pasetoToken = signer.paseto(claims)
        jwtToken = signer.jwt(claims)
        pasetoClaimsJSON = ClaimsCodec.encode(claims, as: .paseto)
        jwtClaimsJSON = ClaimsCodec.encode(claims, as: .jwt)
        let policy = ClaimsPolicy(issuers: ["https://id.portcullis.test"], audiences: ["portcullis-gateway"])
        let keys = VerificationKeys([key.publicKey])
        paseto = PasetoPublicVerifier(keys: keys, policy: policy)
        jwt = JWTVerifier(keys: keys, policy: policy)

        // Rebuild the signed messages from the tokens themselves (PAE for PASETO, the ASCII
        // signing input for JWT) so the raw cases check identical bytes and signatures.
        let pasetoParts = pasetoToken.split(separator: ".")
        let body = Base64URL.decode(String(pasetoParts[2]))!
        let footer = Base64URL.decode(String(pasetoParts[3]))!
        let message = Array(body.dropLast(64))
        pasetoSigned = (PAE.encode(Array("v4.public.".utf8), message, footer, []), Array(body.suffix(64)))
        let jwtParts = jwtToken.split(separator: ".")
        jwtSigned = (Array("\(jwtParts[0]).\(jwtParts[1])".utf8), Base64URL.decode(String(jwtParts[2]))!)
        precondition(rawVerify(pasetoSigned) && rawVerify(jwtSigned), "fixture signatures must verify")
        cache.insert(pasetoToken, claims: try paseto.verify(pasetoToken, now: now), ticket: cache.ticket(), now: now)
    }

    func rawVerify(_ signed: (message: [UInt8], signature: [UInt8])) -> Bool {
        crypto_sign_verify_detached(signed.signature, signed.message, UInt64(signed.message.count), publicKey) == 0
    }
}
