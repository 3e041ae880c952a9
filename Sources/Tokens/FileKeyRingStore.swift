import FileWrites
import Foundation

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
        do {
            try StagedFile(contents: Array(data), destination: path, mode: 0o600).commit()
        } catch {
            throw KeyRingError.storeUnwritable(path: path, reason: error.description)
        }
    }
}
