import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PKI
import Tokens
import X509

/// `/v1/certs/…`: the Workload API.
///
/// - `POST /v1/certs/sign`: the body is a PKCS#10 CSR (PEM or DER, any content type but JSON) or
///   `{"csr": "<PEM>", "join_token": "pcj_…"}`. Without a join token the request must come through
///   the gateway from a service authenticated by its client certificate (the gateway's signed
///   `X-Portcullis-Assertion`). The answer is the chain, leaf then intermediate, as
///   `application/pem-certificate-chain`.
/// - `GET /v1/certs/crl`: the CRL signed by the intermediate, DER (`application/pkix-crl`), or
///   PEM with `?format=pem` or `Accept: application/x-pem-file`.
struct WorkloadAPI: Sendable {
    let workload: WorkloadCertificates?
    let settings: IdentitySettings

    static let assertionHeader = HTTPField.Name(AssertionHeader.name)!

    func register(on router: Router<IdentityRequestContext>) {
        router.post("/v1/certs/sign") { request, context in await respond { try await sign(request, context) } }
        router.get("/v1/certs/crl") { request, _ in await respond { try await crl(request) } }
    }

    private func sign(_ request: Request, _ context: IdentityRequestContext) async throws(WorkloadError) -> Response {
        guard let workload else { throw .notConfigured }
        let bytes: [UInt8]
        do { bytes = try await RequestBytes.collect(request, context: context, limit: settings.maxBodyBytes) } catch {
            throw .malformedRequest(error.description)
        }
        var csrBytes = bytes
        var joinToken: String?
        if request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true {
            (csrBytes, joinToken) = try Self.jsonBody(bytes)
        }
        let csr: CertificateSigningRequest
        do { csr = try CertificateSigningRequest(pemOrDER: csrBytes) } catch { throw .malformedRequest(error.description) }
        let credential: WorkloadCredential
        if let joinToken {
            credential = .joinToken(joinToken)
        } else if let assertion = request.headers[Self.assertionHeader] {
            credential = .gatewayAssertion(assertion)
        } else {
            throw .unauthenticated
        }
        let chain = try await workload.sign(csr, credential: credential, client: context.clientInfo(request, settings: settings))
        let pem: String
        do { pem = PEMText.of(try chain.map { try $0.serializeAsPEM() }) } catch { throw .signingFailed("\(error)") }
        return Response(
            status: .ok, headers: [.contentType: "application/pem-certificate-chain", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: pem)))
    }

    /// `{"csr": string, "join_token": string?}` and nothing else.
    private static func jsonBody(_ bytes: [UInt8]) throws(WorkloadError) -> (csr: [UInt8], joinToken: String?) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw .malformedRequest("expected a JSON object {\"csr\", \"join_token\"}")
        }
        let unknown = object.keys.filter { $0 != "csr" && $0 != "join_token" }.sorted()
        guard unknown.isEmpty else { throw .malformedRequest("unknown field \(unknown.joined(separator: ", "))") }
        guard let csr = object["csr"] as? String else { throw .malformedRequest("'csr' (a PEM string) is required") }
        if let token = object["join_token"], !(token is String) { throw .malformedRequest("'join_token' must be a string") }
        return (Array(csr.utf8), object["join_token"] as? String)
    }

    private func crl(_ request: Request) async throws(WorkloadError) -> Response {
        guard let workload else { throw .notConfigured }
        let crl = try await workload.revocationList()
        let accept = request.headers[.accept]?.lowercased() ?? ""
        let wantsPEM =
            request.uri.queryParameters["format"] == "pem" || accept.contains("application/x-pem-file")
            || accept.contains("application/pem")
        let maxAge = max(0, Int(crl.nextUpdate.timeIntervalSinceNow / 2))
        let headers: HTTPFields = [
            .contentType: wantsPEM ? "application/x-pem-file" : "application/pkix-crl", .cacheControl: "public, max-age=\(min(maxAge, 300))",
        ]
        let body = wantsPEM ? ByteBuffer(string: crl.pemString) : ByteBuffer(bytes: crl.derBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// Runs a handler, turning a `WorkloadError` into the identity API's JSON error shape.
    private func respond(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            let error = error as? WorkloadError ?? .unavailable("\(error)")
            let (status, code) = error.classification
            let message = if case .unavailable = error { "the identity store is unavailable" } else { error.description }
            var headers: HTTPFields = [:]
            if status == .unauthorized { headers[.wwwAuthenticate] = #"JoinToken realm="portcullis""# }
            return JSONResponse.make(status, JSONResponse.ErrorBody(error: code, message: message, fields: nil), headers: headers)
        }
    }
}
