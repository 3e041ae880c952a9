import FileWrites
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
            staged.append(try StagedFile(pem: privateKey + certificates, destination: prefix + ".pem", mode: 0o600))
            staged.append(try StagedFile(pem: privateKey, destination: prefix + ".key", mode: 0o600))
            staged.append(try StagedFile(pem: certificates, destination: prefix + ".crt", mode: 0o644))
        } catch {
            for file in staged { file.discard() }
            throw error
        }
        for (index, file) in staged.enumerated() {
            do {
                try file.commitPEM()
            } catch {
                for later in staged[(index + 1)...] { later.discard() }
                throw error
            }
        }
        // The renames are durable once their directory is.
        synchronizeDirectory(URL(fileURLWithPath: prefix + ".crt").deletingLastPathComponent().path)
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
