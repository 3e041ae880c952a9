import ChildProcesses
import Foundation

/// The demo's gRPC service (`deploy/demo/fleet_service.py`, grpcio with the stubs generated from
/// `deploy/demo/fleet.proto`): live truck positions, `logistics.fleet.v1.Positions`, behind the
/// gateway's `fleet-positions` route on `grpc.localhost` over h2c. It checks the gateway's
/// signed assertion on every call, with the identity service's keys, as the Swift demo
/// services do.
struct DemoFleetPositions: Sendable {
    /// An absolute path to a Python with grpcio (scripts/demo's `.venv`).
    let python: String
    let script: String
    /// Where it writes the port it bound.
    let portFile: URL
    let identityPort: Int

    static let routeID = "fleet-positions"
    static let host = "grpc.localhost"

    /// Runs the service while `body` runs, passing `body` the port it listens on.
    func run<T: Sendable>(output: CapturedOutput, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> T {
        try? FileManager.default.removeItem(at: portFile)
        let command = ChildCommand(
            python,
            [
                script, "--host", "127.0.0.1", "--port", "0", "--port-file", portFile.path, "--audience", Self.routeID,
                "--jwks-url", "http://127.0.0.1:\(identityPort)/.well-known/jwks.json", "--exit-with-parent",
            ])
        return try await command.supervise(output: output) {
            for _ in 0..<600 {
                if let text = try? String(contentsOf: portFile, encoding: .utf8),
                    let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
                {
                    return try await body(port)
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw LocalDeploymentError.demoUpstreams("the gRPC fleet service did not listen within 30 s")
        }
    }

    /// Its route in the gateway configuration.
    static func route(port: Int) -> String {
        """
            - id: \(routeID)
              hosts: [\(host)]
              path: /
              upstream: http://127.0.0.1:\(port)
              upstream_protocol: h2c
              # Watch streams run until the client stops them; a shift bounds even those allowed.
              max_stream_lifetime: 8h
              labels: {team: dispatch}

        """
    }
}
