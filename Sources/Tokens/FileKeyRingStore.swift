import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON file of sealed key records, written atomically (temp file, fsync, rename) with
/// mode 0600. A missing file is an empty ring.
public struct FileKeyRingStore: KeyRingStore {
    public let path: String

    public init(path: String) { self.path = path }

    private struct Document: Codable {
        var format: Int
        var keys: [KeyRecord]
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }

    public func load() async throws(KeyRingError) -> KeyRing {
        guard FileManager.default.fileExists(atPath: path) else { return KeyRing() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyRingError.storeUnreadable(path: path, reason: "permission denied or not a file")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        do {
            let document = try decoder.decode(Document.self, from: data)
            guard document.format == 1 else { throw KeyRingError.storeUnreadable(path: path, reason: "unknown format \(document.format)") }
            return KeyRing(records: document.keys)
        } catch let error as KeyRingError {
            throw error
        } catch {
            throw KeyRingError.storeUnreadable(path: path, reason: "not a key store document")
        }
    }

    public func save(_ ring: KeyRing) async throws(KeyRingError) {
        let data: Data
        do { data = try Self.encoder().encode(Document(format: 1, keys: ring.records)) } catch {
            throw KeyRingError.storeUnwritable(path: path, reason: "encoding failed")
        }
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0o600)
        guard fd >= 0 else { throw KeyRingError.storeUnwritable(path: path, reason: String(cString: strerror(errno))) }
        var failure: String?
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw KeyRingError.storeUnwritable(path: path, reason: failure)
        }
    }
}
