import Foundation
import TestSupport
import Testing

@testable import Composition

/// deploy/: the configuration files the systemd units and the Kubernetes ConfigMap ship are read
/// by the real loader (with the environment the units and pods set), and deploy/check.py finds no
/// problem in the manifests and units while it does find one in a broken copy.
@Suite struct DeployConfigurationTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy")

    func load(_ relativePath: String, environment: [String: String] = [:]) throws -> PortcullisConfiguration {
        try PortcullisConfiguration.load(path: Self.deploy.appendingPathComponent(relativePath).path, environment: environment)
    }

    @Test func systemdRolesAreWhatTheUnitsSay() throws {
        let gateway = try load("systemd/gateway.yaml")
        #expect(gateway.gateway.enabled)
        #expect(gateway.gateway.settings.port == 443)
        #expect(gateway.identity.listen == ListenAddress(host: "127.0.0.1", port: 8081))
        let identityRoute = try #require(gateway.gateway.routes.first { $0.id == "identity" })
        #expect(identityRoute.upstream.absoluteString == "http://127.0.0.1:8081")
        #expect(gateway.database.url != nil)
        #expect(gateway.audit.exportFile != nil)

        let identity = try load("systemd/identity.yaml")
        #expect(!identity.gateway.enabled)
        #expect(identity.identity.caDirectory == "/etc/portcullis/ca")
    }

    @Test func kubernetesConfigurationsWithThePodsEnvironment() throws {
        let secret = [
            "PORTCULLIS_DATABASE_URL": "postgres://portcullis:secret@postgres-primary.databases.svc:5432/portcullis?sslmode=require",
            "PORTCULLIS_ADMIN_LISTEN": "0.0.0.0:9090", "PORTCULLIS_MASTER_KEY_FILE": "/etc/portcullis/master-key/master.key",
        ]
        let gateway = try load("kubernetes/config/gateway.yaml", environment: secret)
        #expect(gateway.gateway.enabled)
        #expect(gateway.gateway.settings.port == 8443)
        #expect(gateway.admin.listen == ListenAddress(host: "0.0.0.0", port: 9090))
        #expect(gateway.audit.exportFile == "-")
        #expect(gateway.gateway.routes.map(\.id) == ["identity", "shipments", "billing"])

        let identity = try load("kubernetes/config/identity.yaml", environment: secret.merging(["PORTCULLIS_IDENTITY_LISTEN": "0.0.0.0:8081"]) { $1 })
        #expect(!identity.gateway.enabled)
        #expect(identity.identity.listen == ListenAddress(host: "0.0.0.0", port: 8081))
        #expect(identity.keys.masterKeyFile == "/etc/portcullis/master-key/master.key")
    }

    @Test func manifestsAndUnitsPassTheChecker() throws {
        let clean = try Self.check(Self.deploy)
        #expect(clean.status == 0, "\(clean.output)")

        // The same checker on a copy whose PodDisruptionBudget selects nothing must object.
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.deploy, to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        let manifest = copy.appendingPathComponent("kubernetes/gateway.yaml")
        let text = try String(contentsOf: manifest, encoding: .utf8)
        try text.replacingOccurrences(of: "      app.kubernetes.io/component: gateway\n---", with: "      app.kubernetes.io/component: gateways\n---")
            .write(to: manifest, atomically: true, encoding: .utf8)
        let broken = try Self.check(copy)
        #expect(broken.status == 1)
        #expect(broken.output.contains("PodDisruptionBudget/portcullis-gateway: selects no Deployment's pods"), "\(broken.output)")
    }

    static func check(_ directory: URL) throws -> (status: Int32, output: String) {
        let python = URL(fileURLWithPath: ProcessInfo.processInfo.environment["PORTCULLIS_PYTHON"] ?? "/usr/bin/python3")
        return try ChildProcess.run(python, [deploy.appendingPathComponent("check.py").path, directory.path])
    }
}
