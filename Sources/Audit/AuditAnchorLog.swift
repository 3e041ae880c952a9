import FileWrites
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The local anchor file (`audit.anchor_file`): anchors appended one line at a time with
/// O_APPEND, each forced to disk (fsync) before the writer goes on, so a database rewritten
/// later cannot take back what it says. The file is only appended to: ship it (or the export
/// stream, which carries the same lines) to storage the database's users cannot rewrite.
///
/// Several writers (the server, operator commands) append to one file: each line is one
/// `write`, which O_APPEND keeps whole. Used only from a pipeline's writer task.
public final class AuditAnchorLog: @unchecked Sendable {
    public let path: String
    private var descriptor: Int32 = -1

    public init(path: String) {
        self.path = path
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    func append(_ anchors: [AuditAnchor]) throws(AuditError) {
        guard !anchors.isEmpty else { return }
        if descriptor < 0 {
            descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else { throw .anchor("cannot open \(path): \(String(cString: strerror(errno)))") }
        }
        for anchor in anchors {
            do { try writeAll(Array((anchor.line + "\n").utf8), to: descriptor) } catch { throw .anchor("cannot append to \(path): \(error)") }
        }
        guard fsync(descriptor) == 0 else { throw .anchor("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    /// Every anchor in `files`, in file order; a line that is not one refuses the whole read,
    /// naming file and line. Lines of the export stream that are records, not anchors, are
    /// skipped, so an export file can be given as it is.
    public static func read(_ files: [String]) throws(AuditAnchorError) -> [AuditAnchor] {
        var anchors: [AuditAnchor] = []
        for file in files {
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw .unreadable(file: file, reason: "\(error.localizedDescription)")
            }
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                guard !line.trimmingCharacters(in: .whitespaces).isEmpty, line.contains(#""anchor":"#) else { continue }
                do {
                    anchors.append(try AuditAnchor(line: String(line)))
                } catch {
                    throw .invalidLine(file: file, line: index + 1, reason: error.description)
                }
            }
        }
        return anchors
    }
}
