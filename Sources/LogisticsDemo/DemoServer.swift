import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Runs the configured demo upstreams in one process until SIGTERM or SIGINT.
public enum DemoServer {
    public static func run(_ configuration: DemoConfiguration, logger: Logger) async throws {
        let keySet = GatewayKeySet(settings: configuration.keySet, logger: logger)
        // Fetched at start, beside the listeners, so a misconfigured URL shows in the log at once.
        // A failure is not fatal (the identity service may start later): requests fetch again, and
        // requests arriving meanwhile wait for this fetch rather than starting their own.
        Task { _ = try? await keySet.keys() }
        let bound = PortReport(expected: configuration.listeners.count, file: configuration.portsFile, logger: logger)
        let startedAt = Date()
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = configuration.listeners.map { listener in
            let requirements = AssertionRequirements(issuer: configuration.issuer, audience: configuration.routeID(listener.service))
            let app = application(
                listener.service, verifier: AssertionVerifier(keySet: keySet, requirements: requirements),
                links: configuration.consoleLinks, startedAt: startedAt, address: .hostname(listener.host, port: listener.port), logger: logger
            ) { port in
                logger.notice(
                    "listener started",
                    metadata: [
                        "service": "\(listener.service.rawValue)", "address": "\(listener.host):\(port)",
                        "route_id": "\(configuration.routeID(listener.service))",
                    ])
                bound.record(listener.service, port: port)
            }
            return .init(service: app, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        let watch: [ServiceGroupConfiguration.ServiceConfiguration] =
            configuration.exitWithParent
            ? [.init(service: ParentWatch(logger: logger), successTerminationBehavior: .gracefullyShutdownGroup)] : []
        let group = ServiceGroup(configuration: .init(services: services + watch, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.notice("stopped")
    }

    /// One service's HTTP application: every route behind the assertion check.
    static func application(
        _ service: DemoService, verifier: AssertionVerifier, links: [ConsoleLink], startedAt: Date,
        address: BindAddress, logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(service, verifier: verifier, links: links, startedAt: startedAt, logger: logger),
            configuration: .init(address: address, serverName: nil),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    static func router(
        _ service: DemoService, verifier: AssertionVerifier, links: [ConsoleLink], startedAt: Date,
        logger: Logger
    ) -> Router<DemoRequestContext> {
        let router = Router(context: DemoRequestContext.self)
        router.add(middleware: AssertionMiddleware(verifier: verifier, logger: logger))
        switch service {
        case .shipments:
            let shipments = RecordStore(seed: SeedData.shipments(at: startedAt), firstNumber: 1006)
            CollectionRoutes.register(shipments, on: router)
            CollectionRoutes.registerUpdates(shipments, on: router)
            // A driver's own shipments, selected by the verified assertion's subject: the view the
            // logistics policies admit drivers to (they cannot name a driver in a path themselves).
            router.get("/v1/shipments/mine") { _, context in
                let caller = try context.requireCaller()
                return JSONBody.response(
                    .ok,
                    ListBody(
                        collection: Shipment.collection, records: shipments.list(matching: ["driver": caller.subject]),
                        caller: caller))
            }
        case .fleet:
            let vehicles = RecordStore(seed: SeedData.vehicles(at: startedAt), firstNumber: 15)
            let drivers = RecordStore(seed: SeedData.drivers(at: startedAt), firstNumber: 24)
            CollectionRoutes.register(vehicles, on: router)
            CollectionRoutes.registerUpdates(vehicles, on: router)
            CollectionRoutes.register(drivers, on: router)
            CollectionRoutes.registerUpdates(drivers, on: router)
        case .billing:
            CollectionRoutes.register(RecordStore(seed: SeedData.invoices(at: startedAt), firstNumber: 5003), on: router)
        case .opsConsole:
            OpsConsole.register(on: router, links: links, startedAt: startedAt)
        }
        return router
    }
}

/// Collects the bound ports and, once every listener has reported, writes the ports file
/// (`{"billing": 41234, ...}`) by an atomic rename, so a reader never sees half of it.
final class PortReport: Sendable {
    private let expected: Int
    private let file: String?
    private let logger: Logger
    private let ports = Mutex<[String: Int]>([:])

    init(expected: Int, file: String?, logger: Logger) {
        self.expected = expected
        self.file = file
        self.logger = logger
    }

    func record(_ service: DemoService, port: Int) {
        let complete: [String: Int]? = ports.withLock { ports in
            ports[service.rawValue] = port
            return ports.count == expected ? ports : nil
        }
        guard let complete, let file else { return }
        do {
            let data = try JSONSerialization.data(withJSONObject: complete, options: [.sortedKeys])
            let target = URL(fileURLWithPath: file)
            let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).tmp")
            try data.write(to: temporary)
            guard rename(temporary.path, target.path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file])
            }
            logger.info("ports file written", metadata: ["file": "\(file)"])
        } catch {
            logger.error("ports file not written", metadata: ["file": "\(file)", "error": "\(error)"])
        }
    }
}
