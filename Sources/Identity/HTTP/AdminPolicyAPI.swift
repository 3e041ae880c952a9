import Foundation
import HTTPTypes
import Hummingbird
import PolicyStore

/// `/v1/admin/policies…`: the versioned policy store over HTTP, authorized and audited like the
/// rest of the admin API. The same checks as `portcullis policy push|rollback` apply; a refused
/// set answers 422 with every finding and changes nothing.
extension AdminAPI {
    /// Policy bundles are larger than other admin bodies.
    static let policyBodyLimit = 4 << 20

    func registerPolicies(on group: RouterGroup<IdentityRequestContext>) {
        route(group, .get, "policies") { request, _, _ in
            let (before, limit) = try Self.versionPagination(request)
            return JSONResponse.make(.ok, ["items": try await Self.translating { try await policyVersions.history(before: before, limit: limit) }])
        }
        route(group, .get, "policies/:version") { _, context, _ in
            let number = try Self.versionNumber(context)
            let stored = try await Self.translating { try await policyVersions.show(number) }
            return JSONResponse.make(.ok, VersionBody(stored))
        }
        route(group, .post, "policies") { request, context, actor in
            var body = try await JSONBody.read(request, context: context, limit: Self.policyBodyLimit)
            let message = body.requiredString("message")
            let policies = body.stringMap("policies")
            let schemaText = body.requiredString("schema")
            let schemaFormat = body.string("schema_format") ?? "cedar"
            let schemaName = body.check { () throws(IdentityError) in
                guard let index = ["cedar", "json"].firstIndex(of: schemaFormat) else { throw .invalid("schema_format", "expected cedar or json") }
                return PolicyBundle.schemaNames[index]
            }
            let tests = body.stringMap("tests")
            try body.finish()
            return await policyChange(actor, "policy.push", target: "policy-store") {
                let bundle = try PolicyBundle(policies: policies.map { PolicyBundle.File(name: $0.key, text: $0.value) },
                                              schema: PolicyBundle.File(name: schemaName!, text: schemaText),
                                              tests: tests.map { PolicyBundle.File(name: $0.key, text: $0.value) })
                return try await policyVersions.push(bundle, author: actor.principal, message: message, origin: "request")
            }
        }
        route(group, .post, "policies/:version/rollback") { request, context, actor in
            let number = try Self.versionNumber(context)
            var body = try await JSONBody.read(request, context: context, limit: service.settings.maxBodyBytes)
            let message = body.string("message")
            try body.finish()
            return await policyChange(actor, "policy.rollback", target: "PolicyVersion::\"\(number)\"") {
                try await policyVersions.rollback(to: number, author: actor.principal, message: message)
            }
        }
    }

    /// Runs a push or rollback and answers 201 with the new version, or the refusal; both are audited.
    private func policyChange(_ actor: AdminActor, _ action: String, target: String,
                              _ change: () async throws -> PolicyVersion) async -> Response {
        do {
            let version = try await change()
            record(actor, action, target: "PolicyVersion::\"\(version.number)\"", before: nil, after: version)
            return JSONResponse.make(.created, version)
        } catch {
            struct Refusal: Encodable { var error: String }
            record(actor, action, target: target, before: nil, after: Refusal(error: "\(error)"), outcome: "refused")
            guard case let .refused(report)? = error as? PolicyStoreError else { return JSONResponse.error(Self.identityError(error)) }
            struct Refused: Encodable {
                var error = "policy_refused"
                var message = "the policy set failed validation or its tests; nothing was changed"
                var report: PolicyCheckReport
            }
            return JSONResponse.make(.unprocessableContent, Refused(report: report))
        }
    }

    private static func translating<T>(_ body: () async throws -> T) async throws(IdentityError) -> T {
        do { return try await body() } catch { throw identityError(error) }
    }

    private static func identityError(_ error: any Error) -> IdentityError {
        guard let error = error as? PolicyStoreError else { return .from(error) }
        return switch error {
        case let .invalidBundle(reason), let .unreadable(reason): .invalid("policies", reason)
        case let .invalidField(field, reason): .invalid(field, reason)
        case let .notFound(number): .notFound("policy version \(number)")
        case .alreadyActive: .conflict(error.description)
        case .refused: .conflict(error.description)
        case let .unavailable(reason): .unavailable(reason)
        }
    }

    private static func versionNumber(_ context: IdentityRequestContext) throws(IdentityError) -> Int64 {
        guard let number = Int64(try parameter(context, "version")), number > 0 else { throw .invalid("version", "expected a version number") }
        return number
    }

    private static func versionPagination(_ request: Request) throws(IdentityError) -> (before: Int64?, limit: Int) {
        let query = request.uri.queryParameters
        var limit = 50
        if let raw = query["limit"] {
            guard let value = Int(String(raw)), (1...pageLimit).contains(value) else { throw .invalid("limit", "expected a number from 1 to \(pageLimit)") }
            limit = value
        }
        var before: Int64?
        if let raw = query["before"] {
            guard let value = Int64(String(raw)), value > 0 else { throw .invalid("before", "expected a version number") }
            before = value
        }
        return (before, limit)
    }

    /// A version with its files, as `GET /v1/admin/policies/{version}` answers it.
    private struct VersionBody: Encodable {
        var version: PolicyVersion
        var policies: [PolicyBundle.File]
        var schema: PolicyBundle.File?
        var tests: [PolicyBundle.File]

        init(_ stored: StoredPolicyVersion) {
            version = stored.version
            policies = stored.bundle.policies
            schema = stored.bundle.schema
            tests = stored.bundle.tests
        }
    }
}
