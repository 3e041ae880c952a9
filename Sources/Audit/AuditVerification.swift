import Foundation
import Tokens

/// What one run of `audit verify` (or the console's "Verify now") found, kept in the database so
/// that search results, the admin API and the console can mark each record by its chain.
///
/// A database writer could store a reassuring result of their own, so each is authenticated under
/// a subkey of the master key; a result without a valid authenticator is not used (records then
/// show as unverified) and is reported as such.
public struct AuditVerification: Sendable, Equatable, Codable {
    /// One finding or gap as it was printed.
    public struct Entry: Sendable, Equatable, Codable {
        public var problem: String
        public var writer: String
        public var seq: Int64
        public var eventID: String?
        public var requestID: String?
        public var text: String

        enum CodingKeys: String, CodingKey {
            case problem, writer, seq, text
            case eventID = "event_id"
            case requestID = "request_id"
        }

        init(_ finding: AuditVerifier.Finding) {
            problem = finding.problem.rawValue
            writer = finding.writerID.uuidString.lowercased()
            seq = finding.sequence
            eventID = finding.eventID?.uuidString.lowercased()
            requestID = finding.requestID
            text = finding.description
        }
    }

    /// Findings and gaps kept per result; the counts say how many there were.
    public static let keptEntries = 200

    public var finishedAtMicros: Int64
    /// Who ran it: `Operator::"<os user>"` for the command, the signed-in admin for the console.
    public var ranBy: String
    public var records: Int
    public var writers: Int
    public var checkpointsChecked: Int
    public var signaturesChecked: Bool
    public var anchorsChecked: Int
    public var anchorFiles: [String]
    public var findingCount: Int
    public var gapCount: Int
    public var openChains: Int
    public var findings: [Entry]
    public var gaps: [Entry]
    /// Per writer (lower-case id): the newest sequence a checked signature vouches for.
    public var vouchedThrough: [String: Int64]
    /// Per writer: the first sequence a finding names; that record and those after it are suspect.
    public var brokenFrom: [String: Int64]

    enum CodingKeys: String, CodingKey {
        case records, writers, findings, gaps
        case finishedAtMicros = "finished_at_us"
        case ranBy = "ran_by"
        case checkpointsChecked = "checkpoints_checked"
        case signaturesChecked = "signatures_checked"
        case anchorsChecked = "anchors_checked"
        case anchorFiles = "anchor_files"
        case findingCount = "finding_count"
        case gapCount = "gap_count"
        case openChains = "open_chains"
        case vouchedThrough = "vouched_through"
        case brokenFrom = "broken_from"
    }

    public init(report: AuditVerifier.Report, signaturesChecked: Bool, anchorFiles: [String], ranBy: String, finishedAt: Date = Date()) {
        finishedAtMicros = CivilTime.micros(finishedAt)
        self.ranBy = ranBy
        records = report.records
        writers = report.writers
        checkpointsChecked = report.checkpointsChecked
        self.signaturesChecked = signaturesChecked
        anchorsChecked = report.anchorsChecked
        self.anchorFiles = anchorFiles
        findingCount = report.findings.count
        gapCount = report.gaps.count
        openChains = report.openChains.count
        findings = report.findings.prefix(Self.keptEntries).map(Entry.init)
        gaps = report.gaps.prefix(Self.keptEntries).map(Entry.init)
        vouchedThrough = Dictionary(uniqueKeysWithValues: report.vouchedThrough.map { ($0.key.uuidString.lowercased(), $0.value) })
        var broken: [String: Int64] = [:]
        for finding in report.findings {
            let writer = finding.writerID.uuidString.lowercased()
            broken[writer] = min(broken[writer] ?? .max, finding.sequence)
        }
        brokenFrom = broken
    }

    public var isIntact: Bool { findingCount == 0 }

    /// How `record` stands as of this verification.
    public func status(of record: ChainedEvent) -> ChainStatus {
        let writer = record.writerID.uuidString.lowercased()
        if let first = brokenFrom[writer], record.sequence >= first { return .broken }
        if let through = vouchedThrough[writer], record.sequence <= through { return .verified }
        return .unverified
    }

    /// The canonical bytes the authenticator covers.
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(self)
    }

    static let authenticationPurpose = "audit-verification"
}

/// Where a record stands by the last verification the master key vouches for.
public enum ChainStatus: String, Sendable, Equatable {
    /// A signed checkpoint whose signature was checked vouches for it, and nothing before it broke.
    case verified
    /// Written after the last verification, not yet under a checked checkpoint, or no trusted
    /// verification exists.
    case unverified
    /// Its chain has a finding at or before it.
    case broken
}

/// The newest stored verification, as the master key sees it.
public enum LatestVerification: Sendable, Equatable {
    case none
    /// A stored result without a valid authenticator (written without the master key, or not by
    /// Portcullis): not used.
    case unauthenticated(finishedAtMicros: Int64)
    case vouched(AuditVerification)

    public func status(of record: ChainedEvent) -> ChainStatus {
        if case let .vouched(verification) = self { return verification.status(of: record) }
        return .unverified
    }
}
