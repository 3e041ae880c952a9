import AccessModel
import Foundation
import Gateway
import Logging
import ServiceLifecycle
import UnixSignals

/// Keeps the gateway's policies, routes and certificates current: on SIGHUP, and whenever one
/// of their files changes (checked every second). Policies only with `policies.source: files`;
/// from the store, the `PolicyFeed` keeps them current. Each piece is validated whole before it
/// replaces the one in force; a failure is logged with its file, line and column, and the
/// running version stays.
struct GatewayReloader: Service {
    let configuration: PortcullisConfiguration
    /// nil when the policies come from the store.
    let policies: PolicyHolder?
    let routes: RouteHolder
    let credentials: ServerCredentials
    let clientTrust: ClientTrust?
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups {
                    logger.notice("SIGHUP: reloading policies, routes and certificates")
                    reloadAll()
                }
            }
            group.addTask {
                var stamps = fileStamps()
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    let current = fileStamps()
                    if current != stamps {
                        stamps = current
                        reloadAll()
                    }
                }
            }
            await cancelWhenGracefulShutdown { try? await Task.sleep(for: .seconds(Int64.max / 2_000_000_000)) }
            group.cancelAll()
        }
    }

    /// Inode, modification time and size of every file the gateway reads: an atomic
    /// replacement (a new inode) counts as a change even when size and timestamp match the
    /// previous version's at the file system's timestamp granularity.
    private func fileStamps() -> [String: [Double]] {
        var files = [configuration.gateway.settings.certificateFile, configuration.gateway.settings.keyFile]
        if let bundle = configuration.gateway.settings.clientCAFile { files.append(bundle) }
        if let source = configuration.sourceFile { files.append(source) }
        files += routes.table.routes.flatMap { $0.payload.upstreamTLS?.files ?? [] }
        if policies != nil {
            let directory = configuration.policies.directory
            let policyFiles = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            files += policyFiles.filter { $0.hasSuffix(".cedar") }.map { (directory as NSString).appendingPathComponent($0) }
        }
        var stamps: [String: [Double]] = [:]
        for file in files {
            let attributes = try? FileManager.default.attributesOfItem(atPath: file)
            stamps[file] = [
                Double((attributes?[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0),
                (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0,
                Double((attributes?[.size] as? NSNumber)?.int64Value ?? -1),
            ]
        }
        return stamps
    }

    private func reloadAll() {
        if let policies {
            do {
                let loaded = try PolicyDirectory.load(configuration.policies.directory)
                if loaded.version != policies.snapshot?.version {
                    policies.replace(with: PolicySnapshot(authorizer: .init(loaded.set), version: loaded.version))
                    logger.notice("policies reloaded", metadata: ["version": "\(loaded.version)", "files": "\(loaded.files.count)"])
                }
            } catch {
                logger.error("policy reload refused; the previous policies stay in force", metadata: ["error": "\(error)"])
            }
        }
        if let source = configuration.sourceFile {
            do {
                let fresh = try PortcullisConfiguration.load(path: source)
                routes.replace(with: try RouteSettings.table(fresh.gateway.routes))
            } catch {
                logger.error("route reload refused; the previous routes stay in force", metadata: ["error": "\(error)"])
            }
        }
        do { try credentials.reload() } catch {
            logger.error("server certificate reload refused; the previous one stays in use", metadata: ["error": "\(error)"])
        }
        do { try clientTrust?.reload() } catch {
            logger.error("client CA reload refused; the previous bundle stays in use", metadata: ["error": "\(error)"])
        }
    }
}
