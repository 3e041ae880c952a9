#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes every byte to `descriptor`: write(2) may write fewer than asked (and is resumed where it
/// stopped) or be interrupted by a signal (and is retried).
public func writeAll(_ bytes: [UInt8], to descriptor: Int32) throws(FileWriteError) {
    let failure: FileWriteError? = bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 && errno == EINTR { continue }
            // Nothing written for a non-empty request is no progress; errno says nothing then.
            guard written > 0 else { return written == 0 ? FileWriteError(code: EIO) : .last }
            offset += written
        }
        return nil
    }
    if let failure { throw failure }
}
