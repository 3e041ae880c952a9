import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written beside its destination and fsynced, but not yet in place until `commit()` renames
/// it over the destination, so a reader sees the old file or the new one, never a part. The mode is
/// set when the file is created, before any byte is written, so a secret is never readable by others
/// even for an instant. Staging and committing are separate so that several files can all be written
/// before any of them replaces its old one.
public struct StagedFile: Sendable {
    public let temporaryPath: String
    public let destinationPath: String

    public init(contents: [UInt8], destination: String, mode: mode_t) throws(FileWriteError) {
        let destinationURL = URL(fileURLWithPath: destination)
        temporaryPath =
            destinationURL.deletingLastPathComponent()
            .appendingPathComponent(".\(destinationURL.lastPathComponent).\(UUID().uuidString).tmp").path
        destinationPath = destination
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw .last }
        do throws(FileWriteError) {
            // open(2) applies the umask; fchmod makes the mode exactly what was asked for.
            guard fchmod(descriptor, mode) == 0 else { throw .last }
            try writeAll(contents, to: descriptor)
            guard fsync(descriptor) == 0 else { throw .last }
        } catch {
            close(descriptor)
            discard()
            throw error
        }
        guard close(descriptor) == 0 else {
            let error = FileWriteError.last
            discard()
            throw error
        }
    }

    /// Puts the file in place in one rename(2).
    public func commit() throws(FileWriteError) {
        guard rename(temporaryPath, destinationPath) == 0 else {
            let error = FileWriteError.last
            discard()
            throw error
        }
    }

    public func discard() {
        unlink(temporaryPath)
    }
}
