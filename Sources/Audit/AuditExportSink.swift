import FileWrites
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A continuous copy of the trail for central log systems: every chained record as one line of
/// the stable export schema (`AuditExportFormat.jsonl`), to standard output or to a file that
/// rotates by size (`audit.jsonl` → `audit.jsonl.1` → … → `audit.jsonl.<keep>`, oldest dropped).
///
/// Used only from the pipeline's writer task, so it needs no lock.
public final class AuditExportSink: @unchecked Sendable {
    public enum Destination: Sendable, Equatable {
        case standardOutput
        case file(path: String, maxBytes: Int, keep: Int)
    }

    private let destination: Destination
    private var descriptor: Int32 = -1
    private var size = 0

    public init(_ destination: Destination) {
        self.destination = destination
    }

    deinit {
        if descriptor > 2 { close(descriptor) }
    }

    /// Appends the batch; an export failure is reported but never blocks the trail itself.
    func export(_ batch: [ChainedEvent]) throws(AuditError) {
        var text = ""
        for record in batch {
            text += AuditExportFormat.jsonl.line(record)
            text += "\n"
        }
        try append(Array(text.utf8))
    }

    /// Appends anchors (``AuditAnchor``) among the records, so whatever carries the stream to a
    /// log system carries them too.
    func export(anchors: [AuditAnchor]) throws(AuditError) {
        guard !anchors.isEmpty else { return }
        try append(Array(anchors.map { $0.line + "\n" }.joined().utf8))
    }

    private func append(_ bytes: [UInt8]) throws(AuditError) {
        switch destination {
        case .standardOutput:
            try write(bytes, to: STDOUT_FILENO)
        case .file(let path, let maxBytes, let keep):
            if descriptor < 0 { try open(path) }
            if size > 0 && size + bytes.count > maxBytes { try rotate(path, keep: keep) }
            try write(bytes, to: descriptor)
            size += bytes.count
        }
    }

    private func open(_ path: String) throws(AuditError) {
        descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw .export("cannot open export file \(path): \(String(cString: strerror(errno)))") }
        var status = stat()
        size = fstat(descriptor, &status) == 0 ? Int(status.st_size) : 0
    }

    private func rotate(_ path: String, keep: Int) throws(AuditError) {
        close(descriptor)
        descriptor = -1
        if keep > 0 {
            unlink("\(path).\(keep)")
            for index in stride(from: keep - 1, through: 1, by: -1) { rename("\(path).\(index)", "\(path).\(index + 1)") }
            rename(path, "\(path).1")
        } else {
            unlink(path)
        }
        try open(path)
    }

    private func write(_ bytes: [UInt8], to fd: Int32) throws(AuditError) {
        do { try writeAll(bytes, to: fd) } catch { throw .export("write failed: \(error)") }
    }
}
