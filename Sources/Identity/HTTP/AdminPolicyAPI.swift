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
            let files = Self.bundleFiles(&body)
            try body.finish()
            return await policyChange(actor, "policy.push", target: "policy-store") {
                try await policyVersions.push(try files!.bundle(), author: actor.principal, message: message, origin: "request")
            }
        }
        route(group, .post, "policies/check") { request, context, _ in
            var body = try await JSONBody.read(request, context: context, limit: Self.policyBodyLimit)
            let files = Self.bundleFiles(&body)
            try body.finish()
            let report = await workbench.check(try Self.translating { try files!.bundle() })
            return JSONResponse.make(.ok, report)
        }
        route(group, .post, "policies/explain") { request, context, _ in
            var body = try await JSONBody.read(request, context: context, limit: Self.policyBodyLimit)
            let described = body.jsonText("request")
            let requestID = body.string("request_id")
            let source = try await policySource(&body, prefix: "")
            try body.finish()
            let subject: WorkbenchRequest
            switch (described, requestID) {
            case let (text?, nil): subject = .described(text: text, source: "request")
            case let (nil, id?): subject = .audited(requestID: id)
            default: throw IdentityError.invalid("request", "give either request (a request shaped like a policy test case) or request_id")
            }
            return try await preview { () throws(PolicyWorkbenchError) in try await workbench.explain(subject, policies: source) }
        }
        route(group, .post, "policies/diff") { request, context, _ in
            var body = try await JSONBody.read(request, context: context, limit: Self.policyBodyLimit)
            let old = try await policySource(&body, prefix: "from_")
            let new = try await policySource(&body, prefix: "")
            let days = body.integer("days", in: 1...366)
            let requests = body.jsonLines("requests")
            try body.finish()
            guard let new else { throw IdentityError.invalid("policies", "give the new policy set (policies and schema) or version") }
            let corpus: DiffCorpus = requests.map { .requests(text: $0, source: "requests") } ?? .audit(days: days ?? 7)
            return try await preview { () throws(PolicyWorkbenchError) in try await workbench.diff(from: old, to: new, corpus: corpus) }
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

    /// The files of a bundle given in a body: `policies` (name → text), `schema`, `schema_format`
    /// (`cedar` or `json`), `tests` (name → text). Field errors are collected in `body`.
    private struct BundleFiles {
        var policies: [String: String]
        var schemaName: String
        var schema: String
        var tests: [String: String]

        func bundle() throws(PolicyStoreError) -> PolicyBundle {
            try PolicyBundle(
                policies: policies.map { PolicyBundle.File(name: $0.key, text: $0.value) },
                schema: PolicyBundle.File(name: schemaName, text: schema),
                tests: tests.map { PolicyBundle.File(name: $0.key, text: $0.value) })
        }
    }

    private static func bundleFiles(_ body: inout JSONBody, prefix: String = "") -> BundleFiles? {
        let policies = body.stringMap(prefix + "policies")
        let schema = body.requiredString(prefix + "schema")
        let format = body.string(prefix + "schema_format") ?? "cedar"
        let schemaName = body.check { () throws(IdentityError) in
            guard let index = ["cedar", "json"].firstIndex(of: format) else { throw .invalid(prefix + "schema_format", "expected cedar or json") }
            return PolicyBundle.schemaNames[index]
        }
        let tests = body.stringMap(prefix + "tests")
        return schemaName.map { BundleFiles(policies: policies, schemaName: $0, schema: schema, tests: tests) }
    }

    /// A policy set to preview: `<prefix>version` (a stored version), the files under
    /// `<prefix>policies`…, or neither (nil: the active version).
    private func policySource(_ body: inout JSONBody, prefix: String) async throws(IdentityError) -> PolicyBundle? {
        let number = body.integer(prefix + "version", in: 1...Int.max)
        guard body.has(prefix + "policies") || body.has(prefix + "schema") else {
            guard let number else { return nil }
            return try await Self.translating { try await policyVersions.show(Int64(number)).bundle }
        }
        guard number == nil else { throw .invalid(prefix + "version", "give either \(prefix)version or \(prefix)policies, not both") }
        guard let files = Self.bundleFiles(&body, prefix: prefix) else { return nil }
        return try Self.translating { try files.bundle() }
    }

    /// Answers a preview: 200 with the result; 422 with the report for a set that does not
    /// validate; 400, 404 or 503 otherwise. Previews change nothing, so nothing is recorded.
    private func preview<Result: Encodable>(_ compute: () async throws(PolicyWorkbenchError) -> Result) async throws(IdentityError) -> Response {
        do {
            return JSONResponse.make(.ok, try await compute())
        } catch {
            switch error {
            case let .invalidPolicies(report):
                return JSONResponse.make(.unprocessableContent, InvalidPolicies(report: report))
            case let .invalidInput(reason): throw .invalid("request", reason)
            case let .notFound(what): throw .notFound(what)
            case let .unavailable(reason): throw .unavailable(reason)
            }
        }
    }

    private struct InvalidPolicies: Encodable {
        var error = "policy_invalid"
        var message = "the policy set does not parse or fails validation"
        var report: PolicyCheckReport
    }

    /// Runs a push or rollback and answers 201 with the new version, or the refusal; both are audited.
    private func policyChange(
        _ actor: AdminActor, _ action: String, target: String,
        _ change: () async throws -> PolicyVersion
    ) async -> Response {
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

    private static func translating<T>(_ body: () throws -> T) throws(IdentityError) -> T {
        do { return try body() } catch { throw identityError(error) }
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
            guard let value = Int(String(raw)), (1...pageLimit).contains(value) else {
                throw .invalid("limit", "expected a number from 1 to \(pageLimit)")
            }
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
