import ArgumentParser
import Audit
import Composition
import Foundation
import Tokens

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify, search and export the audit trail.",
        subcommands: [Verify.self, Search.self, Export.self, Load.self, Keys.self])

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The archive of keys that signed audit checkpoints.", subcommands: [KeysExport.self])
    }

    struct KeysExport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Every archived checkpoint key the master key vouches for, as a JWKS on stdout (for `audit verify --keys` elsewhere).")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            let (configuration, logger) = try options.load()
            let (jwks, untrusted) = try await AuditRuntime.exportKeys(configuration: configuration, logger: logger)
            FileHandle.standardOutput.write(jwks + Data("\n".utf8))
            for keyID in untrusted {
                FileHandle.standardError.write(Data("left out: archived key \(keyID) is not vouched for by the master key\n".utf8))
            }
        }
    }

    /// Filters shared by search and export.
    struct Filters: ParsableArguments {
        @Option(help: #"Principal: a login or service name (dana), or a Cedar uid ('User::"dana"')."#) var principal: String?
        @Option(help: "Route id.") var route: String?
        @Option(help: "Outcome: allow, deny, error, success, failure, applied.") var decision: String?
        @Option(help: "Only events at or after this time (RFC 3339).", transform: RFC3339.date(from:)) var since: Date?
        @Option(help: "Only events before this time (RFC 3339).", transform: RFC3339.date(from:)) var until: Date?
        @Option(name: .customLong("request-id"), help: "One request's events.") var requestID: String?

        func query(limit: Int) -> AuditQuery {
            AuditQuery(principal: principal, route: route, outcome: decision, requestID: requestID, since: since, until: until, limit: limit)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every hash chain and name each modified, deleted, inserted or reordered record.",
            discussion: """
                Exit status: 0 when everything checked holds and is vouched for by signed checkpoints; 1 when \
                something was changed (a finding); 2 when nothing was found changed but the trail is not proven: \
                no signature was checked (neither the master key nor --keys), or records no signed checkpoint \
                covers in time (gaps); 3 with --closed-chains when a chain has no clean stop.
                """)
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "Start at this time (RFC 3339) instead of each chain's first record.", transform: RFC3339.date(from:)) var since: Date?
        @Option(help: "Public keys (JWKS or PASERK lines) to check checkpoint signatures with.") var keys: String?
        @Flag(help: "Exit 3 when a chain has no clean stop (for a trail whose writers have all stopped).") var closedChains = false
        @Flag(help: "Exit 0, not 2, when nothing was changed but signatures were not checked or the evidence has gaps.")
        var acceptUnproven = false
        @Option(
            parsing: .upToNextOption,
            help: "Anchor files (audit.anchor_file or its shipped copies, or an export stream) the database must still match.")
        var anchors: [String] = []

        func run() async throws {
            let (configuration, logger) = try options.load()
            let verificationKeys = try keys.map { path in
                guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
                return try VerificationKeys(document: data)
            }
            let outcome: AuditVerificationRun.Outcome
            do {
                outcome = try await AuditRuntime.verify(
                    configuration: configuration, since: since, keys: verificationKeys, anchorFiles: anchors, logger: logger)
            } catch let error as AuditAnchorError {
                throw ValidationError(error.description)
            }
            let report = outcome.report
            if let reason = outcome.notRecorded {
                FileHandle.standardError.write(Data("the result was not kept for the console and searches: \(reason)\n".utf8))
            }
            for finding in report.findings + report.gaps { print(finding) }
            for chain in report.openChains { print(chain) }
            let checkpoints: String
            let signaturesChecked = outcome.keys.checkedSignatures
            switch outcome.keys {
            case .given:
                checkpoints = "\(report.checkpointsChecked) signed checkpoints checked"
            case let .archive(count, untrusted):
                for keyID in untrusted { print("untrusted archived key: \(keyID) is not vouched for by the master key (not used)") }
                checkpoints = "\(report.checkpointsChecked) signed checkpoints checked against the key archive (\(count) key(s))"
            case .none:
                checkpoints = "\(report.checkpointsChecked) checkpoints matched, NO SIGNATURES CHECKED (pass --keys, or give the master key)"
            }
            let notes =
                (report.gaps.isEmpty ? "" : "; \(report.gaps.count) gap(s) in the evidence")
                + (report.openChains.isEmpty ? "" : "; \(report.openChains.count) chain(s) without a clean stop (running, or crashed)")
            let anchorNote =
                anchors.isEmpty
                ? ", no anchors checked (pass --anchors \(configuration.audit.anchorPath))" : ", \(report.anchorsChecked) anchors held"
            print(
                "\(report.records) records in \(report.writers) chains, \(checkpoints)\(anchorNote): \(report.isIntact ? "intact" : "\(report.findings.count) problem(s)")\(notes)"
            )
            if !report.isIntact { throw ExitCode(1) }
            if !acceptUnproven && (!signaturesChecked || !report.gaps.isEmpty) {
                FileHandle.standardError.write(
                    Data(
                        "not proven: \(signaturesChecked ? "gaps in the evidence" : "no checkpoint signature was checked") (--accept-unproven exits 0)\n"
                            .utf8))
                throw ExitCode(2)
            }
            if closedChains && !report.openChains.isEmpty { throw ExitCode(3) }
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Newest matching events first, as JSON lines, each with its chain as of the last `audit verify` (verified, unverified, broken)."
        )
        @OptionGroup var options: ConfigurationOptions
        @OptionGroup var filters: Filters
        @Option(help: "At most this many events.") var limit = 100

        func run() async throws {
            let (configuration, logger) = try options.load()
            let (records, verification) = try await AuditRuntime.search(
                configuration: configuration, query: filters.query(limit: limit), logger: logger)
            for record in records { print(AuditExportFormat.jsonl.line(record, chain: verification.status(of: record))) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stream matching events, oldest first, to standard output.")
        @OptionGroup var options: ConfigurationOptions
        @OptionGroup var filters: Filters
        @Option(help: "jsonl or csv.") var format: AuditExportFormat = .jsonl

        func run() async throws {
            let (configuration, logger) = try options.load()
            let output = FileHandle.standardOutput
            let count = try await AuditRuntime.export(
                configuration: configuration, query: filters.query(limit: 1_000), format: format, logger: logger
            ) { line in output.write(Data((line + "\n").utf8)) }
            logger.info("exported audit events", metadata: ["count": "\(count)"])
        }
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record synthetic events through the real pipeline and report the sustained rate (benchmark).")
        @OptionGroup var options: ConfigurationOptions
        @Option(help: "How many events.") var events = 100_000

        func run() async throws {
            let (configuration, logger) = try options.load()
            // Written straight to the file descriptor: a progress line's `spooled=N` is an acknowledgement
            // (those N events are fsynced), so it must not sit in a stdio buffer.
            let (statistics, elapsed) = try await AuditRuntime.load(configuration: configuration, events: events, logger: logger) { s in
                let line = "accepted=\(s.accepted) written=\(s.written) spooled=\(s.spooled) dropped=\(s.dropped)\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(
                String(
                    format: "%d events in %.2f s: %.0f events/s (written %d, spooled %d, dropped %d)",
                    events, seconds, Double(events) / seconds, statistics.written, statistics.spooled, statistics.dropped))
        }
    }
}

extension AuditExportFormat: ExpressibleByArgument {}
