import Foundation
import SwiftASN1
import X509
#if canImport(Glibc)
import Glibc
#endif

/// A service's credentials as `<prefix>.crt` (leaf then intermediate) and `<prefix>.key` (mode 0600),
/// plus `<prefix>.pem` holding both (key first, mode 0600), replaced on every renewal while the
/// service keeps running and re-reads them. A client that can load the pair from one file (curl's
/// `--cert`, HAProxy, Envoy) should use `.pem`: one rename replaces it, so it is never mismatched.
///
/// Each file is replaced by rename(2), so a reader never sees a half-written file. Two renames cannot
/// be one atomic step, though: the key is renamed first and the certificate second, so for the moment
/// between the two a reader may find the new key beside the old certificate. Renaming the certificate
/// last makes it the commit point: a reader that reacts to a new `.crt` finds its key already in place.
/// `read(prefix:)` checks that the two belong together and reads again when they do not.
public enum CredentialFiles {
    /// Writes both files and fsyncs them before either is renamed into place, so the window in which
    /// the pair mismatches is two renames long and each file is always whole, old or new. A crash (or
    /// a failed rename) between the two renames leaves the new key beside the old certificate: `read`
    /// then reports `credentialMismatch`, the new certificate stays beside them as
    /// `.<name>.crt.<uuid>.tmp`, and the service needs a join token to enrol again.
    public static func write(prefix: String, chain: [Certificate], key: Certificate.PrivateKey) throws(PKIError) {
        guard let leaf = chain.first else { throw .invalidRequest("there is no certificate to write to \(prefix).crt") }
        guard leaf.publicKey == key.publicKey else { throw .credentialMismatch(prefix) }
        let certificates: String
        let privateKey: String
        do {
            certificates = PEMText.of(try chain.map { try $0.serializeAsPEM() })
            privateKey = PEMText.of(try key.serializeAsPEM())
        } catch {
            throw .signingFailed("cannot encode the credentials for \(prefix): \(error)")
        }
        // Staged in commit order: the combined file, the key, then the certificate (the commit point).
        var staged: [StagedFile] = []
        do {
            staged.append(try StagedFile(contents: Array((privateKey + certificates).utf8), destination: prefix + ".pem", mode: 0o600))
            staged.append(try StagedFile(contents: Array(privateKey.utf8), destination: prefix + ".key", mode: 0o600))
            staged.append(try StagedFile(contents: Array(certificates.utf8), destination: prefix + ".crt", mode: 0o644))
        } catch {
            staged.forEach { $0.discard() }
            throw error
        }
        for (index, file) in staged.enumerated() {
            do {
                try file.commit()
            } catch {
                staged[(index + 1)...].forEach { $0.discard() }
                throw error
            }
        }
        StagedFile.synchronizeDirectory(of: prefix + ".crt")
    }

    /// Reads a pair written by `write`, retrying briefly (at most about 50 ms) when it catches the
    /// pair between the two renames. Both files are read before either is parsed, the key first as
    /// `write` renames it first, so the window in which a renewal can come between the two reads is
    /// two system calls wide, not the time it takes to parse a chain.
    public static func read(prefix: String) throws(PKIError) -> (chain: [Certificate], key: Certificate.PrivateKey) {
        for attempt in 1...5 {
            let keyText = try contents(of: prefix + ".key", holding: "the private key")
            let chainText = try contents(of: prefix + ".crt", holding: "the certificates")
            let chain = try parseChain(chainText, path: prefix + ".crt")
            let key = try parseKey(keyText, path: prefix + ".key")
            if chain[0].publicKey == key.publicKey { return (chain, key) }
            if attempt < 5 { usleep(10_000) }
        }
        throw .credentialMismatch(prefix)
    }

    private static func contents(of path: String, holding what: String) throws(PKIError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable("cannot read \(what) in \(path): \(error)")
        }
    }

    private static func parseChain(_ text: String, path: String) throws(PKIError) -> [Certificate] {
        do {
            let chain = try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
            guard !chain.isEmpty else { throw PKIError.unreadable("\(path) holds no certificate") }
            return chain
        } catch let error as PKIError {
            throw error
        } catch {
            throw .unreadable("cannot read the certificates in \(path): \(error)")
        }
    }

    private static func parseKey(_ text: String, path: String) throws(PKIError) -> Certificate.PrivateKey {
        do {
            return try Certificate.PrivateKey(pemEncoded: text)
        } catch {
            throw .unreadable("cannot read the private key in \(path): \(error)")
        }
    }
}

/// When a certificate should be renewed: two thirds into its lifetime, leaving the last third to
/// retry while the identity service is unreachable before the certificate expires.
public enum RenewalSchedule {
    public static func nextRenewal(notBefore: Date, notAfter: Date) -> Date {
        notBefore + notAfter.timeIntervalSince(notBefore) * 2 / 3
    }
}

/// A file written beside its destination and fsynced, but not yet in place until `commit()` renames
/// it over the destination. The mode is set when the file is created, before any byte is written, so
/// a private key is never readable by others even for an instant.
struct StagedFile {
    let temporaryPath: String
    let destinationPath: String

    init(contents: [UInt8], destination: String, mode: mode_t) throws(PKIError) {
        let destinationURL = URL(fileURLWithPath: destination)
        temporaryPath = destinationURL.deletingLastPathComponent()
            .appendingPathComponent(".\(destinationURL.lastPathComponent).\(UUID().uuidString).tmp").path
        destinationPath = destination
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Self.failure(destination) }
        // open(2) applies the umask; fchmod makes the mode exactly what was asked for.
        let succeeded = fchmod(descriptor, mode) == 0 && contents.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let count = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                written += count
            }
            return true
        } && fsync(descriptor) == 0
        guard succeeded else {
            let error = Self.failure(destination)
            close(descriptor)
            discard()
            throw error
        }
        guard close(descriptor) == 0 else {
            let error = Self.failure(destination)
            discard()
            throw error
        }
    }

    /// Puts the file in place in one rename(2): readers see the old file or the new one, never a mix.
    func commit() throws(PKIError) {
        guard rename(temporaryPath, destinationPath) == 0 else {
            let error = Self.failure(destinationPath)
            discard()
            throw error
        }
    }

    func discard() {
        unlink(temporaryPath)
    }

    /// Makes the renames durable. Best effort: some file systems refuse fsync on a directory, and the
    /// files themselves are already whole.
    static func synchronizeDirectory(of path: String) {
        let descriptor = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    private static func failure(_ path: String) -> PKIError {
        .writeFailed(path: path, reason: String(cString: strerror(errno)))
    }
}

extension RenewalSchedule {
    /// Two thirds of the lifetime that remained when the certificate was obtained. Issuers
    /// backdate notBefore (Portcullis by a minute) to absorb clock skew; counting from it would
    /// put the renewal point of a certificate that lives only seconds before its issuance, and a
    /// renewal agent would renew in a tight loop. A certificate read from disk counts as obtained
    /// when its file was written.
    public static func nextRenewal(obtainedAt: Date, notBefore: Date, notAfter: Date) -> Date {
        let start = max(notBefore, min(obtainedAt, notAfter))
        return nextRenewal(notBefore: start, notAfter: notAfter)
    }
}
