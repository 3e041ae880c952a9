import Foundation
import Tokens

/// One verification as `portcullis audit verify` and the console's "Verify now" run it: the
/// chains held to their checkpoints, signatures checked with pinned keys or the key archive the
/// master key vouches for, the anchors read from files, and (for a whole-trail run) the result
/// kept for marking records.
public struct AuditVerificationRun: Sendable {
    /// Which keys checkpoint signatures were checked with.
    public enum CheckpointKeys: Sendable, Equatable {
        /// Those the auditor gave (`--keys`).
        case given
        /// The archive of checkpoint keys, each authenticated under the master key; `untrusted`
        /// names archived keys that are not (added or altered in the database).
        case archive(count: Int, untrusted: [String])
        /// None: no `--keys` and no master key to authenticate the archive with.
        case none

        public var checkedSignatures: Bool { self != .none }
    }

    public struct Outcome: Sendable {
        public var report: AuditVerifier.Report
        public var keys: CheckpointKeys
        /// Why the result was not kept, when keeping it failed (a read-only database role); a
        /// partial run (`since`) is never kept.
        public var notRecorded: String?
    }

    let store: AuditStore
    let masterKey: MasterKey?
    let checkpointInterval: Duration

    public init(store: AuditStore, masterKey: MasterKey?, checkpointInterval: Duration) {
        self.store = store
        self.masterKey = masterKey
        self.checkpointInterval = checkpointInterval
    }

    /// The newest kept result, as the master key sees it.
    public func latest() async throws -> LatestVerification {
        try await store.latestVerification(masterKey: masterKey)
    }

    /// With `pinned` keys, or else the archive; `anchorFiles` are read here (a malformed line is an
    /// ``AuditAnchorLog`` error naming file and line, and nothing is verified).
    public func run(since: Date? = nil, pinned: VerificationKeys? = nil, anchorFiles: [String], ranBy: String) async throws -> Outcome {
        let anchors = try AuditAnchorLog.read(anchorFiles)
        var keys = pinned
        var source = pinned == nil ? CheckpointKeys.none : .given
        if pinned == nil, let masterKey {
            let archive = try await store.archivedKeys { ArchivedKeyAuthentication.isAuthentic($0, authenticator: $1, masterKey: masterKey) }
            keys = VerificationKeys(archive.keys)
            source = .archive(count: archive.keys.count, untrusted: archive.untrusted)
        }
        let report = try await AuditVerifier(store: store, checkpointInterval: checkpointInterval).verify(since: since, keys: keys, anchors: anchors)
        var outcome = Outcome(report: report, keys: source)
        guard since == nil else { return outcome }
        let verification = AuditVerification(
            report: report, signaturesChecked: source.checkedSignatures, anchorFiles: anchorFiles, ranBy: ranBy)
        do {
            try await store.record(verification, masterKey: masterKey)
        } catch {
            outcome.notRecorded = "\(error)"
        }
        return outcome
    }
}
