import Audit
import Foundation
import Hummingbird
import NIOCore
import PolicyStore

/// Audit: search (principal, route, decision, time range, request id; keyset pagination), one
/// request with its explanation and policy version, and the current search exported as JSONL or
/// CSV, streamed page by page.
extension AdminConsole {
    static let auditPages: [ConsolePage] = [
        ConsolePage(.get, "audit") { console, request, context in try await console.auditSearch(request, context) },
        ConsolePage(.get, "audit/requests/:id") { console, _, context in try await console.auditRequest(context) },
        ConsolePage(.get, "audit/export") { console, request, _ in try console.auditExport(request) },
        ConsolePage(.get, "audit/verification") { console, _, context in try await console.verificationPage(context) },
        ConsolePage(.post, "audit/verification") { console, _, context in
            _ = try await console.verification.run(anchorFiles: console.anchorFiles, ranBy: context.caller.principal.uid.description)
            return Self.redirect("audit/verification")
        },
    ]

    static let auditPageSize = 50

    /// The search the query string describes; the same one for the page and its export.
    static func auditQuery(_ request: Request) throws(ConsoleError) -> (query: AuditQuery, filters: [String: String]) {
        var filters: [String: String] = [:]
        for name in ["principal", "route", "decision", "request_id", "since", "until"] {
            if let value = ConsoleContext.query(request, name) { filters[name] = value }
        }
        func time(_ name: String) throws(ConsoleError) -> Date? {
            guard let text = filters[name] else { return nil }
            // `datetime-local` inputs send minutes without a zone: read as UTC, like every time in the console.
            for candidate in [text, text + "Z", text + ":00Z"] {
                if let date = try? Date(candidate, strategy: .iso8601) { return date }
            }
            throw .invalid("\(name) must be a time such as 2026-11-24T08:00 (UTC)")
        }
        if let decision = filters["decision"], !["allow", "deny", "error", "applied", "refused"].contains(decision) {
            throw .invalid("decision must be allow, deny, error, applied or refused")
        }
        var after: AuditQuery.Cursor?
        if let raw = ConsoleContext.query(request, "after") {
            guard let cursor = AuditQuery.Cursor(raw) else { throw .invalid("the page cursor is malformed") }
            after = cursor
        }
        let query = AuditQuery(
            principal: filters["principal"], route: filters["route"], outcome: filters["decision"],
            requestID: filters["request_id"], since: try time("since"), until: try time("until"),
            after: after, limit: auditPageSize)
        return (query, filters)
    }

    private func auditSearch(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let (query, filters) = try Self.auditQuery(request)
        let records = try await audit.search(query)
        let verification = try await verification.latest()
        var items: [URLQueryItem] = filters.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        let exportQuery = Self.queryString(items)
        var next: String?
        if records.count == query.limit, let last = records.last {
            items.append(URLQueryItem(name: "after", value: AuditQuery.Cursor(timeMicros: last.event.timeMicros, id: last.event.id).description))
            next = Self.queryString(items)
        }
        var values: [String: Any] = [
            "section": "audit", "title": "Audit trail", "events": records.map { Self.eventValues($0, chain: verification.status(of: $0)) },
            "next": next as Any, "export_query": exportQuery, "empty": records.isEmpty, "verification": Self.verificationSummary(verification),
        ]
        for (name, value) in filters { values["filter_" + name] = value }
        if let decision = filters["decision"] { values["decision_" + decision] = true }
        return render(.ok, "audit", values, context)
    }

    private func auditRequest(_ context: ConsoleContext) async throws -> Response {
        let requestID = try context.parameter("id")
        guard requestID.count <= 64, requestID.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw ConsoleError.invalid("a request id is letters, digits and dashes")
        }
        let records = try await audit.search(AuditQuery(requestID: requestID, limit: 20))
        guard !records.isEmpty else { throw ConsoleError.notFound("No audit record has request id \(requestID).") }
        let verification = try await verification.latest()
        var values: [String: Any] = [
            "section": "audit", "title": "Request \(requestID)", "request_id": requestID,
            "events": records.map { Self.eventValues($0, chain: verification.status(of: $0)) },
            "verification": Self.verificationSummary(verification),
        ]
        if let access = records.first(where: { $0.event.kind == .access }) {
            do {
                // Explained under the version that decided it when the store still has it, else under the one in force.
                let decidedBy = try await storedVersion(hash: access.event.policyVersion)
                let explained = try await requireWorkbench().explain(.audited(requestID: requestID), policies: decidedBy?.bundle)
                values["explanation"] = Self.explanationValues(explained)
                values["explained_under"] = decidedBy.map { "version \($0.version.number), the one that decided it" } ?? "the version in force"
            } catch {
                values["explanation_error"] = ConsoleError.from(error).description
            }
        }
        return render(.ok, "event", values, context)
    }

    /// The stored policy version with this content hash, among the last 200.
    private func storedVersion(hash: String?) async throws -> StoredPolicyVersion? {
        guard let hash, let version = try await policyVersions.history(limit: 200).first(where: { $0.hash == hash }) else { return nil }
        return try await policyVersions.show(version.number)
    }

    /// The whole search (not just one page), oldest first, streamed: memory stays bounded however long the range.
    private func auditExport(_ request: Request) throws -> Response {
        var (query, _) = try Self.auditQuery(request)
        query.after = nil
        let format: AuditExportFormat
        switch ConsoleContext.query(request, "format") ?? "jsonl" {
        case "jsonl": format = .jsonl
        case "csv": format = .csv
        default: throw ConsoleError.invalid("format must be jsonl or csv")
        }
        let (audit, search) = (self.audit, query)
        let body = ResponseBody { writer in
            if let header = format.header { try await writer.write(ByteBuffer(string: header + "\n")) }
            var chunk = ""
            try await audit.forEach(search) { record in
                chunk += format.line(record) + "\n"
                if chunk.utf8.count >= 64 * 1024 {
                    try await writer.write(ByteBuffer(string: chunk))
                    chunk = ""
                }
            }
            if !chunk.isEmpty { try await writer.write(ByteBuffer(string: chunk)) }
            try await writer.finish(nil)
        }
        let type = format == .csv ? "text/csv; charset=utf-8" : "application/x-ndjson"
        return Response(
            status: .ok,
            headers: [
                .contentType: type, .contentDisposition: "attachment; filename=\"portcullis-audit.\(format.rawValue)\"",
            ], body: body)
    }

    /// The last verification, its findings and gaps, and the anchors it held the database to.
    private func verificationPage(_ context: ConsoleContext) async throws -> Response {
        let latest = try await verification.latest()
        var values: [String: Any] = [
            "section": "audit", "title": "Audit verification", "anchor_files": anchorFiles, "summary": Self.verificationSummary(latest),
        ]
        if case let .vouched(last) = latest {
            values["last"] =
                [
                    "records": last.records, "writers": last.writers, "checkpoints": last.checkpointsChecked,
                    "signatures_checked": last.signaturesChecked, "anchors": last.anchorsChecked, "anchor_files": last.anchorFiles,
                    "open_chains": last.openChains, "findings": last.findings.map(\.text), "gaps": last.gaps.map(\.text),
                    "more_findings": last.findingCount > last.findings.count ? "\(last.findingCount - last.findings.count) more not shown" : "",
                    "more_gaps": last.gapCount > last.gaps.count ? "\(last.gapCount - last.gaps.count) more not shown" : "",
                ] as [String: Any]
        }
        return render(.ok, "verification", values, context)
    }

    /// One line over the trail: when it was last verified, by whom, and with what result.
    static func verificationSummary(_ latest: LatestVerification) -> [String: Any] {
        switch latest {
        case .none:
            return ["state": "none", "warning": true, "text": "The trail has never been verified: every record shows as unverified."]
        case let .unauthenticated(at):
            return [
                "state": "untrusted", "warning": true,
                "text": "The last stored verification (\(AuditExportFormat.timestamp(at))) is not vouched for by the master key and is ignored: "
                    + "every record shows as unverified. It was run without the master key, or written by someone with database access.",
            ]
        case let .vouched(last):
            let when = "Verified \(AuditExportFormat.timestamp(last.finishedAtMicros)) by \(last.ranBy)"
            if !last.isIntact {
                return [
                    "state": "broken", "warning": true,
                    "text": "\(when): \(last.findingCount) problem(s) found. Records of broken chains are marked.",
                ]
            }
            var notes: [String] = []
            if !last.signaturesChecked { notes.append("no signature was checked") }
            if last.gapCount > 0 { notes.append("\(last.gapCount) gap(s) in the evidence") }
            if last.anchorsChecked == 0 { notes.append("no anchors were checked") }
            return [
                "state": notes.isEmpty ? "intact" : "unproven", "warning": !notes.isEmpty,
                "text": "\(when): intact" + (notes.isEmpty ? "." : ", but " + notes.joined(separator: ", ") + "."),
            ]
        }
    }

    static func eventValues(_ record: ChainedEvent, chain: ChainStatus) -> [String: Any] {
        let event = record.event
        return [
            "chain": chain.rawValue, "chain_broken": chain == .broken, "chain_verified": chain == .verified,
            "time": AuditExportFormat.timestamp(event.timeMicros), "kind": event.kind.rawValue, "request_id": event.requestID as Any,
            "principal": event.principal ?? "", "auth_method": event.authMethod ?? "", "action": event.action, "route": event.route ?? "",
            "target": event.target ?? "", "outcome": event.outcome, "denied": event.outcome == "deny" || event.outcome == "refused",
            "policies": event.policies.joined(separator: ", "), "policy_version": event.policyVersion.map { String($0.prefix(12)) } ?? "",
            "full_policy_version": event.policyVersion ?? "", "status": event.upstreamStatus.map(String.init) ?? "",
            "details": event.details ?? "", "client_address": event.clientAddress ?? "",
        ]
    }

    static func queryString(_ items: [URLQueryItem]) -> String {
        var components = URLComponents()
        components.queryItems = items
        // `+` is a space in form decoding: encode it so a value round-trips.
        return components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B") ?? ""
    }
}
