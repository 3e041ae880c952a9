import ChildProcesses
import Crypto
import Federation
import Foundation

/// The company's identity provider of the demo (`portcullis up --identity-provider`): the seed's
/// `identity_provider` people in a django-oauth-toolkit (`deploy/demo/oidc_provider.py`) on a
/// fixed loopback port, so its issuer, and with it the identities linked to Portcullis users,
/// stay the same from one run to the next. Its client secret is made once, in the state directory.
struct DemoIdentityProvider: Sendable {
    let seed: DemoSeed.IdentityProvider
    let port: Int
    /// An absolute path to a Python with django-oauth-toolkit (scripts/demo's `.venv`).
    let python: String
    let script: String
    /// `<state>/identity-provider`: its database, the client secret and the people file.
    let directory: URL
    /// The callback registered at the provider is on the sign-in host at this port.
    let gatewayPort: Int

    var issuer: String { "http://127.0.0.1:\(port)/o" }
    var secretFile: URL { directory.appendingPathComponent("client.secret") }
    var callback: String { "https://\(LocalDeployment.signInHost):\(gatewayPort)/.portcullis/federation/\(seed.id)/callback" }

    /// Runs the provider while `body` runs; `body` starts once it accepts connections.
    func run<T: Sendable>(output: CapturedOutput, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: secretFile.path) {
            let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
            try createOwnerOnlyFile(atPath: secretFile.path, contents: Data(secret.utf8))
        }
        let people = directory.appendingPathComponent("people.json")
        try createOwnerOnlyFile(atPath: people.path, contents: try JSONEncoder().encode(seed.people))
        let portFile = directory.appendingPathComponent("port")
        try? FileManager.default.removeItem(at: portFile)
        let command = ChildCommand(
            python,
            [
                script, "--port", "\(port)", "--port-file", portFile.path, "--state", directory.path, "--client-id", "portcullis",
                "--client-secret-file", secretFile.path, "--users", people.path, "--redirect-uri", callback,
            ])
        return try await command.supervise(output: output) {
            for _ in 0..<600 {
                if (try? String(contentsOf: portFile, encoding: .utf8)) == "\(port)" { return try await body() }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw LocalDeploymentError.identityProvider("it did not listen on port \(port) within 30 s")
        }
    }

    /// The configuration's `federation` section for this provider.
    var configurationSection: String {
        func quoted(_ text: String) -> String { String(decoding: (try? JSONEncoder().encode(text)) ?? Data(), as: UTF8.self) }
        let mapping = seed.groups.table.keys.sorted().map { group in
            let grants = seed.groups.table[group] ?? .init()
            let targets = grants.roles.sorted().map { "role:" + $0 } + grants.groups.sorted().map { "group:" + $0 }
            return "        \(quoted(group)): [\(targets.map(quoted).joined(separator: ", "))]"
        }.joined(separator: "\n")
        return """
            # `--identity-provider`: sign-in with the demo's identity provider (deploy/demo/oidc_provider.py).
            federation:
              providers:
                - id: \(seed.id)
                  name: \(quoted(seed.name))
                  issuer: \(issuer)
                  client_id: portcullis
                  client_secret_file: \(secretFile.path)
                  # Checked with the provider every minute: someone disabled there is out within one.
                  revalidate_every: 1m
                  groups:
            \(mapping)

            """
    }
}
