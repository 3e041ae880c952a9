#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// fsyncs a directory, so that files created in or renamed into it survive a crash. Best effort:
/// some file systems refuse fsync on a directory, and the files themselves are already whole.
public func synchronizeDirectory(_ path: String) {
    let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    _ = fsync(descriptor)
    close(descriptor)
}
