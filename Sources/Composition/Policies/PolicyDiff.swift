import AccessModel
import Audit
import Cedar
import Foundation
import Gateway
import Identity
import Logging
import PostgresNIO

/// `portcullis policy diff`: replays a corpus of requests through two policy sets and lists
/// every request whose decision changes, grouped by principal and route, so a reviewer sees
/// "this change removes finance's access to billing" before it ships.
public struct PolicyDiffReport: Sendable {
    /// One request of the corpus.
    public struct Entry: Sendable {
        public var request: PolicyRequest
        public var hierarchy: RoleHierarchy
        /// How often the audit log saw it (nil for a requests file).
        public var seen: Int?
    }

    public struct Change: Sendable {
        public let entry: Entry
        public let old: Response
        public let new: Response
    }

    public let old: ToolPolicies
    public let new: ToolPolicies
    /// Where the corpus came from, for the report header.
    public let corpus: String
    public let total: Int
    /// In principal, route, path, method order.
    public let changes: [Change]
    /// Corpus entries that could not be replayed, and gaps in the reconstruction.
    public let notes: [String]

    /// Decides every entry with both sets and keeps those whose decision differs.
    public static func compare(
        _ entries: [Entry], old: ToolPolicies, new: ToolPolicies, corpus: String,
        notes: [String] = []
    ) throws(PolicyToolError) -> PolicyDiffReport {
        var changes: [Change] = []
        for entry in entries {
            let (request, entities) = try entry.request.cedar(hierarchy: entry.hierarchy)
            let before = old.authorizer.isAuthorized(request, entities: entities)
            let after = new.authorizer.isAuthorized(request, entities: entities)
            if before.decision != after.decision { changes.append(Change(entry: entry, old: before, new: after)) }
        }
        changes.sort { a, b in
            let x = a.entry.request
            let y = b.entry.request
            return (x.principal.uid.description, x.route, x.path, x.method) < (y.principal.uid.description, y.route, y.path, y.method)
        }
        return PolicyDiffReport(old: old, new: new, corpus: corpus, total: entries.count, changes: changes, notes: notes)
    }

    /// A requests file: one JSON object per line, each shaped like a test case (plus optional
    /// `role_parents`); blank lines are skipped. Any bad line rejects the file, naming its line.
    public static func entries(file: String) throws(PolicyToolError) -> [Entry] {
        try entries(text: try readText(file), source: file)
    }

    /// Requests written one JSON object per line in `text`; `source` names it in errors.
    static func entries(text: String, source file: String) throws(PolicyToolError) -> [Entry] {
        var entries: [Entry] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy(\.isWhitespace) {
            // Leading newlines make the YAML parser report the line's real number.
            guard let node = try PolicyRequestReader.compose(String(repeating: "\n", count: n) + line, file: file) else { continue }
            do throws(ConfigurationError) {
                let document = try PolicyRequestReader.document(node, file: file)
                entries.append(Entry(request: document.request, hierarchy: document.hierarchy, seen: nil))
            } catch {
                throw .invalidFile(error)
            }
        }
        return entries
    }

    /// The distinct (principal, method, route, path, auth method) of the last `days` days of
    /// access records, each replayed at the time it was last seen.
    public static func auditEntries(
        days: Int, now: Date = Date(), configuration: PortcullisConfiguration,
        logger: Logger
    ) async throws -> (entries: [Entry], notes: [String]) {
        try await AuditReplay.withDatabase(configuration, logger: logger) { client in
            try await auditEntries(days: days, now: now, client: client, configuration: configuration, logger: logger)
        }
    }

    /// The audit corpus read through `client`.
    static func auditEntries(
        days: Int, now: Date = Date(), client: PostgresClient, configuration: PortcullisConfiguration,
        logger: Logger
    ) async throws -> (entries: [Entry], notes: [String]) {
        let since = now.addingTimeInterval(-Double(days) * 86_400)
        let shapes = try await AuditStore(client: client, logger: logger).accessShapes(since: since)
        var replay = await AuditReplay.open(client: client, configuration: configuration, logger: logger)
        var entries: [Entry] = []
        var notes: [String] = []
        // The sign-in pages answer for themselves, except a person signing in to a tool through
        // the OpenID provider (its record names the `Client::"<id>"` Cedar decided on).
        for shape in shapes where shape.route != SignInPages.auditRoute || AuditReplay.signedInClient(shape.path) != nil {
            let (request, shapeNotes) = await replay.request(
                principal: shape.principal, method: shape.action, route: shape.route,
                path: shape.path, authMethod: shape.authMethod,
                clientAddress: shape.clientAddress, time: shape.lastSeen, grpc: shape.grpc)
            for note in shapeNotes where !notes.contains(note) { notes.append(note) }
            if let request { entries.append(Entry(request: request, hierarchy: replay.hierarchy, seen: shape.count)) }
        }
        return (entries, notes + (shapes.isEmpty ? [] : AuditReplay.alwaysMissing))
    }

    public var text: String {
        var lines = [
            "old: \(old.directory) (version \(old.version.prefix(12)))",
            "new: \(new.directory) (version \(new.version.prefix(12)))",
            "corpus: \(total) distinct request\(total == 1 ? "" : "s") from \(corpus)",
        ]
        var principal: String?
        var route: String?
        for change in changes {
            let request = change.entry.request
            let who = request.principal.uid.description
            if who != principal {
                var facts: [String] = []
                if !request.principal.roles.isEmpty { facts.append("roles: " + request.principal.roles.joined(separator: ", ")) }
                if !request.principal.groups.isEmpty { facts.append("groups: " + request.principal.groups.joined(separator: ", ")) }
                lines.append("")
                lines.append(who + (facts.isEmpty ? "" : " (\(facts.joined(separator: "; ")))"))
                principal = who
                route = nil
            }
            if request.route != route {
                lines.append("  Route::\"\(request.route)\"")
                route = request.route
            }
            func by(_ r: Response) -> String { r.reasons.isEmpty ? "no policy" : r.reasons.joined(separator: ", ") }
            let seen = change.entry.seen.map { ", seen \($0)×" } ?? ""
            lines.append(
                "    \(request.method) \(request.path) (\(request.effectiveAuthMethodName)\(seen)): "
                    + "\(change.old.decision.rawValue) → \(change.new.decision.rawValue)  [old: \(by(change.old)); new: \(by(change.new))]")
        }
        let lost = changes.filter { $0.old.decision == .allow }.count
        lines.append("")
        lines.append(
            changes.isEmpty
                ? "no decision changes in \(total) request\(total == 1 ? "" : "s")"
                : "\(changes.count) of \(total) requests change: \(lost) Allow → Deny, \(changes.count - lost) Deny → Allow")
        if !notes.isEmpty {
            lines.append("notes:")
            lines += notes.map { "  - \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}
