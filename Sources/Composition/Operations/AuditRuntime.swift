import Audit
import Database
import Foundation
import Logging
import Tokens

/// The `portcullis audit …` commands: each runs a short-lived pool against the configured database.
public enum AuditRuntime {
    static func withStore<T: Sendable>(
        _ configuration: PortcullisConfiguration, logger: Logger, _ body: (AuditStore) async throws -> T
    ) async throws -> T {
        let database = Database(url: try configuration.requireDatabaseURL(), pool: configuration.database.pool, logger: logger)
        return try await database.withRunning(logger: logger) { client in try await body(AuditStore(client: client, logger: logger)) }
    }

    /// `portcullis audit verify`: see ``AuditVerificationRun``.
    public static func verify(
        configuration: PortcullisConfiguration, since: Date?, keys: VerificationKeys?, anchorFiles: [String], logger: Logger
    ) async throws -> AuditVerificationRun.Outcome {
        let masterKey = try IdentityRuntime.masterKey(configuration: configuration)
        return try await withStore(configuration, logger: logger) { store in
            try await AuditVerificationRun(store: store, masterKey: masterKey, checkpointInterval: configuration.audit.pipeline.checkpointInterval)
                .run(since: since, pinned: keys, anchorFiles: anchorFiles, ranBy: CommandRuntime.operatorPrincipal)
        }
    }

    /// The archived checkpoint keys the master key vouches for, as a JWKS document
    /// (`portcullis audit keys export`), and the ids of those it does not.
    public static func exportKeys(configuration: PortcullisConfiguration, logger: Logger) async throws -> (jwks: Data, untrusted: [String]) {
        guard let masterKey = try IdentityRuntime.masterKey(configuration: configuration) else {
            throw AuditError.invalidArgument(
                "the key archive is authenticated with the master key: set PORTCULLIS_MASTER_KEY or keys.master_key_file")
        }
        return try await withStore(configuration, logger: logger) { store in
            let archive = try await store.archivedKeys { ArchivedKeyAuthentication.isAuthentic($0, authenticator: $1, masterKey: masterKey) }
            return (VerificationKeys(archive.keys).jwks(), archive.untrusted)
        }
    }

    /// Matching records, each with how its chain stood at the last verification the master key
    /// vouches for (every record unverified without the master key).
    public static func search(
        configuration: PortcullisConfiguration, query: AuditQuery, logger: Logger
    ) async throws -> (records: [ChainedEvent], verification: LatestVerification) {
        let masterKey = try IdentityRuntime.masterKey(configuration: configuration)
        return try await withStore(configuration, logger: logger) { store in
            (try await store.search(query), try await store.latestVerification(masterKey: masterKey))
        }
    }

    /// Streams every matching record, oldest first, to `write` one line at a time.
    public static func export(
        configuration: PortcullisConfiguration, query: AuditQuery, format: AuditExportFormat, logger: Logger,
        write: @escaping (String) -> Void
    ) async throws -> Int {
        try await withStore(configuration, logger: logger) { store in
            if let header = format.header { write(header) }
            var count = 0
            try await store.forEach(query) { record in
                write(format.line(record))
                count += 1
            }
            return count
        }
    }

    /// Records `events` synthetic access events through a real pipeline as fast as it takes them
    /// and reports the sustained rate: the audit throughput benchmark, and a spool exerciser.
    public static func load(
        configuration: PortcullisConfiguration, events: Int, logger: Logger, progress: @escaping @Sendable (AuditPipeline.Statistics) -> Void
    ) async throws -> (AuditPipeline.Statistics, Duration) {
        let database = Database(url: try configuration.requireDatabaseURL(), pool: configuration.database.pool, logger: logger)
        let pipeline = AuditPipeline(
            configuration: configuration.audit.pipeline,
            store: AuditStore(client: database.client, logger: logger), logger: logger)
        let capacity = configuration.audit.queueCapacity
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await database.run() }
            group.addTask { try await pipeline.run() }
            group.addTask {
                var produced = 0
                while produced < events {
                    let event = AuditEvent(
                        kind: .access, requestID: "load-\(produced)", principal: #"User::"load-\#(produced % 1000)""#,
                        authMethod: "token", action: "GET", route: "route-\(produced % 20)", target: "/items/\(produced)",
                        clientAddress: "127.0.0.1", outcome: "allow", policies: ["policy0"], upstreamStatus: 200, durationMicros: 150)
                    // One producer: when the queue has room, `record` succeeds, so nothing is counted as dropped.
                    guard pipeline.statistics.queued < capacity else {
                        try await Task.sleep(for: .milliseconds(1))
                        continue
                    }
                    if pipeline.record(event) { produced += 1 }
                }
            }
            while true {
                let statistics = pipeline.statistics
                if statistics.written + statistics.spooled >= events { break }
                try await Task.sleep(for: .milliseconds(200))
                progress(pipeline.statistics)
            }
            group.cancelAll()
        }
        let elapsed = clock.now - start
        progress(pipeline.statistics)
        return (pipeline.statistics, elapsed)
    }
}
