#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The errno of a system call that failed while writing a file; callers word their own errors
/// around its text (`strerror`), which is what they report.
public struct FileWriteError: Error, Equatable, CustomStringConvertible {
    public let code: Int32

    public init(code: Int32) { self.code = code }

    /// The failure the last system call on this thread left in errno.
    static var last: FileWriteError { FileWriteError(code: errno) }

    public var description: String { String(cString: strerror(code)) }
}
