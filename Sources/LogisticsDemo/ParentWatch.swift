import Foundation
import Logging
import ServiceLifecycle

/// Ends (and with it the service group) when this process's parent is gone: the kernel then
/// hands us to another parent, so `getppid()` changes. Polled twice a second; the demo only
/// needs to let go of its ports before the next `portcullis up` wants them.
struct ParentWatch: Service {
    let logger: Logger

    func run() async throws {
        let parent = getppid()
        while !Task.isCancelled, !Task.isShuttingDownGracefully, getppid() == parent {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(500)) }
        }
        if getppid() != parent { logger.notice("the process that started us ended; stopping", metadata: ["parent_pid": "\(parent)"]) }
    }
}
