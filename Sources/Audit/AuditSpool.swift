import FileWrites
import Foundation
import Tokens

#if canImport(Glibc)
import Glibc
#endif

/// The local, append-only fallback for batches PostgreSQL could not take.
///
/// Each batch is one record: `length (u32 BE) ‖ BLAKE2b-256(payload) ‖ payload (JSON)`,
/// appended and fsynced before `append` returns, so an acknowledged batch survives SIGKILL
/// or power loss. A record torn by a crash mid-write fails its checksum and ends that segment;
/// it was never acknowledged. Segments are replayed oldest first and deleted once stored.
struct AuditSpool {
    let directory: URL
    /// A new segment starts when the current one exceeds this many bytes.
    let segmentBytes: Int

    init(directory: URL, segmentBytes: Int = 8 << 20) throws(AuditError) {
        self.directory = directory
        self.segmentBytes = segmentBytes
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw .spool("cannot create \(directory.path): \(error.localizedDescription)")
        }
    }

    /// Segment files, oldest first.
    func segments() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix("segment-") && $0.hasSuffix(".spool") }.sorted()
            .map { directory.appendingPathComponent($0) }
    }

    var sizeInBytes: Int {
        segments().reduce(0) { total, url in
            total + ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0)
        }
    }

    var isEmpty: Bool { segments().isEmpty }

    func append(_ batch: [ChainedEvent]) throws(AuditError) {
        let payload: [UInt8]
        do { payload = Array(try JSONEncoder().encode(batch)) } catch { throw .spool("cannot encode batch: \(error)") }
        var record = [UInt8]()
        record.reserveCapacity(36 + payload.count)
        withUnsafeBytes(of: UInt32(payload.count).bigEndian) { record.append(contentsOf: $0) }
        record.append(contentsOf: Digest.blake2b256([payload]))
        record.append(contentsOf: payload)

        var target = segments().last
        if let current = target, (try? FileManager.default.attributesOfItem(atPath: current.path)[.size] as? Int) ?? 0 >= segmentBytes {
            target = nil
        }
        let isNew = target == nil
        let url = target ?? directory.appendingPathComponent(Self.segmentName(after: segments().last))
        let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .spool("cannot open \(url.lastPathComponent): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        do { try writeAll(record, to: fd) } catch { throw .spool("write failed: \(error)") }
        guard fsync(fd) == 0 else { throw .spool("fsync failed: \(String(cString: strerror(errno)))") }
        if isNew { synchronizeDirectory(directory.path) }
    }

    /// Every intact batch of a segment, in order. Stops at the first torn or corrupt record.
    func batches(in segment: URL) throws(AuditError) -> (batches: [[ChainedEvent]], torn: Bool) {
        guard let data = FileManager.default.contents(atPath: segment.path) else {
            throw .spool("cannot read \(segment.lastPathComponent)")
        }
        let bytes = [UInt8](data)
        var batches: [[ChainedEvent]] = []
        var offset = 0
        while offset < bytes.count {
            guard offset + 36 <= bytes.count else { return (batches, true) }
            let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let start = offset + 36
            guard start + length <= bytes.count else { return (batches, true) }
            let payload = Array(bytes[start..<start + length])
            guard Digest.blake2b256([payload]) == Array(bytes[offset + 4..<offset + 36]),
                let batch = try? JSONDecoder().decode([ChainedEvent].self, from: Data(payload))
            else {
                return (batches, true)
            }
            batches.append(batch)
            offset = start + length
        }
        return (batches, false)
    }

    func remove(_ segment: URL) {
        try? FileManager.default.removeItem(at: segment)
        synchronizeDirectory(directory.path)
    }

    private static func segmentName(after last: URL?) -> String {
        let previous = last.flatMap { Int($0.deletingPathExtension().lastPathComponent.dropFirst("segment-".count)) } ?? 0
        return "segment-" + String(previous + 1).leftPadded(to: 12) + ".spool"
    }
}
