import FileWrites
import Foundation
import X509

/// The CA's files in one directory (see `certs/README.md`):
/// `root.crt`, `root.key` (keep offline), `intermediate.crt`, `intermediate.key`,
/// `ca-bundle.crt` (intermediate then root) and `trust-domain`. Keys are written 0600 and
/// nothing is overwritten unless asked.
public struct CAFiles: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    public func save(_ authority: CertificateAuthority, rootKey: Certificate.PrivateKey, force: Bool) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let files: [(String, String, Bool)] = [
            ("root.crt", PEMText.of(try authority.root.serializeAsPEM()), false),
            ("root.key", PEMText.of(try rootKey.serializeAsPEM()), true),
            ("intermediate.crt", PEMText.of(try authority.intermediate.serializeAsPEM()), false),
            ("intermediate.key", PEMText.of(try authority.intermediateKey.serializeAsPEM()), true),
            ("ca-bundle.crt", PEMText.of(try authority.intermediate.serializeAsPEM(), try authority.root.serializeAsPEM()), false),
            ("trust-domain", authority.trustDomain + "\n", false),
        ]
        if !force, let existing = files.first(where: { FileManager.default.fileExists(atPath: url($0.0).path) }) {
            throw PKIError.fileExists(url(existing.0).path)
        }
        for (name, contents, secret) in files {
            try PEMFile.write(contents, to: url(name), secret: secret)
        }
    }

    /// The issuing CA as `portcullis cert issue` and the identity service use it.
    public func load() throws -> CertificateAuthority {
        func read(_ name: String) throws -> String {
            guard let text = try? String(contentsOf: url(name), encoding: .utf8) else {
                throw PKIError.unreadable("cannot read \(url(name).path) (run `portcullis ca init` first)")
            }
            return text
        }
        return CertificateAuthority(
            trustDomain: try read("trust-domain").trimmingCharacters(in: .whitespacesAndNewlines),
            root: try Certificate(pemEncoded: try read("root.crt")),
            intermediate: try Certificate(pemEncoded: try read("intermediate.crt")),
            intermediateKey: try Certificate.PrivateKey(pemEncoded: try read("intermediate.key")))
    }
}

/// Writes PEM files atomically; private keys get mode 0600 before any byte is written.
public enum PEMFile {
    public static func write(_ contents: String, to url: URL, secret: Bool) throws {
        try StagedFile(pem: contents, destination: url.path, mode: secret ? 0o600 : 0o644).commitPEM()
    }
}
