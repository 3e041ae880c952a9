import Foundation

/// Where a child's standard output and error go: a file, either named (a log beside the state
/// it belongs to) or anonymous (created and unlinked at once). A file, unlike a pipe, never
/// keeps the caller waiting for end-of-file when the child leaves a daemon holding it
/// (`pg_ctl start`), and it still holds what a child printed after it was stopped.
public final class CapturedOutput: Sendable {
    /// Ours (read and write); the child gets a duplicate.
    let descriptor: Int32
    /// At most this much of the end of the output goes into a report.
    static let reportLimit = 64 * 1024

    /// An anonymous file, gone when this value is.
    public convenience init() throws(ChildProcessError) {
        var template = Array((FileManager.default.temporaryDirectory.path + "/portcullis-child.XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw .cannotStart(command: "(output file)", reason: String(cString: strerror(errno))) }
        _ = template.withUnsafeBufferPointer { unlink($0.baseAddress!) }
        self.init(descriptor: descriptor)
    }

    /// The file at `path`, emptied and readable by its owner only: a child's log may hold secrets.
    public convenience init(path: String) throws(ChildProcessError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .cannotStart(command: "(log \(path))", reason: String(cString: strerror(errno))) }
        self.init(descriptor: descriptor)
    }

    private init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    /// A descriptor for the child, which the spawner closes once the child has its own.
    func duplicateForChild() throws(ChildProcessError) -> Int32 {
        let copy = dup(descriptor)
        guard copy >= 0 else { throw .cannotStart(command: "(output file)", reason: String(cString: strerror(errno))) }
        return copy
    }

    /// What the child wrote; its last `reportLimit` bytes when there is more.
    public func text() -> String {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return "" }
        let size = Int(status.st_size)
        let start = max(0, size - Self.reportLimit)
        var bytes = [UInt8](repeating: 0, count: size - start)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(start)) }
        return String(decoding: bytes.prefix(max(0, count)), as: UTF8.self)
    }
}
